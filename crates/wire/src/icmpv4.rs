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

use core::fmt;
use core::net::Ipv4Addr;

use crate::ipv4::{self, Protocol};
use crate::{be16, be32, checksum, put16, put32, ChecksumCheck, Error, Layer, Result};

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

fn entries_len(num_addrs: u8, entry_size: u8) -> usize {
    usize::from(num_addrs) * usize::from(entry_size) * 4
}

/// The (router address, preference level) entries of a router advertisement, borrowed.
///
/// Holds the raw entry bytes and the entry size, so entries wider than 2 words re-emit as they
/// were; iteration reads the first two words of each entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouterEntries<'a> {
    bytes: &'a [u8],
    entry_size: u8,
}

impl<'a> RouterEntries<'a> {
    /// Takes raw entry bytes of `entry_size` words each (at least 2; 1 to 255 entries).
    pub fn new(bytes: &'a [u8], entry_size: u8) -> Result<Self> {
        if entry_size < MIN_ROUTER_ENTRY_WORDS {
            return Err(Error::Malformed {
                layer: Layer::Icmpv4,
                what: "router advertisement address entry size below 2",
            });
        }
        let width = usize::from(entry_size) * 4;
        if bytes.is_empty() || bytes.len() % width != 0 || bytes.len() / width > 255 {
            return Err(Error::BadLength {
                layer: Layer::Icmpv4,
                value: bytes.len(),
            });
        }
        Ok(RouterEntries { bytes, entry_size })
    }

    /// Writes `entries` with the RFC 1256 entry size of 2 into the start of `buf` and returns
    /// them, ready for [`Repr::RouterAdvertisement`].
    pub fn encode(buf: &'a mut [u8], entries: &[(Ipv4Addr, i32)]) -> Result<Self> {
        let len = entries.len() * 8;
        Error::need(Layer::Icmpv4, len, buf.len())?;
        for (chunk, (addr, pref)) in buf.chunks_exact_mut(8).zip(entries) {
            chunk[..4].copy_from_slice(&addr.octets());
            chunk[4..].copy_from_slice(&pref.to_be_bytes());
        }
        let buf: &'a [u8] = buf;
        RouterEntries::new(&buf[..len], MIN_ROUTER_ENTRY_WORDS)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() / (usize::from(self.entry_size) * 4)
    }

    /// Whether there are no entries (never true for a value built by `new` or `encode`).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Entry size in 32-bit words.
    pub fn entry_size(&self) -> u8 {
        self.entry_size
    }

    /// The raw entry bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Walks the (router address, preference level) pairs.
    pub fn iter(&self) -> RouterEntriesIter<'a> {
        RouterEntriesIter {
            chunks: self.bytes.chunks_exact(usize::from(self.entry_size) * 4),
        }
    }
}

impl fmt::Debug for RouterEntries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for RouterEntries<'a> {
    type Item = (Ipv4Addr, i32);
    type IntoIter = RouterEntriesIter<'a>;

    fn into_iter(self) -> RouterEntriesIter<'a> {
        self.iter()
    }
}

/// Iterator over router advertisement entries: (router address, preference level).
#[derive(Debug, Clone)]
pub struct RouterEntriesIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for RouterEntriesIter<'_> {
    type Item = (Ipv4Addr, i32);

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks
            .next()
            .map(|c| (addr_at(c, 0), i32::from_be_bytes([c[4], c[5], c[6], c[7]])))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for RouterEntriesIter<'_> {}

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

/// The value of an ICMPv4 message, borrowing its variable-length parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Echo request (type 8, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 0, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// The code.
        reason: DstUnreachable,
        /// Low 16 bits of the second word: the next-hop MTU for `FragRequired` (RFC 1191 §4),
        /// otherwise unused (zero per RFC 792) but kept as received.
        next_hop_mtu: u16,
        /// High 16 bits of the second word (zero per RFC 1191; RFC 4884 puts a length in its
        /// low byte), kept so the message re-emits byte-exact.
        unused: u16,
        /// The quoted original datagram (IP header + at least 8 bytes).
        invoking: &'a [u8],
    },
    /// Source quench (type 4, code 0).
    SourceQuench {
        /// The unused second word, as received.
        unused: u32,
        /// The quoted original datagram.
        invoking: &'a [u8],
    },
    /// Redirect (type 5).
    Redirect {
        /// The code.
        reason: Redirect,
        /// The gateway to use instead.
        gateway: Ipv4Addr,
        /// The quoted original datagram.
        invoking: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// The code.
        reason: TimeExceeded,
        /// The unused second word, as received (RFC 4884 puts a length in byte 5).
        unused: u32,
        /// The quoted original datagram.
        invoking: &'a [u8],
    },
    /// Parameter problem (type 12).
    ParamProblem {
        /// The code.
        reason: ParamProblem,
        /// Offset of the offending octet in the quoted datagram.
        pointer: u8,
        /// The three bytes after the pointer, as received.
        unused: [u8; 3],
        /// The quoted original datagram.
        invoking: &'a [u8],
    },
    /// Router advertisement (type 9, code 0, RFC 1256) with at least one entry and nothing after
    /// the entries.
    RouterAdvertisement {
        /// Lifetime in seconds.
        lifetime: u16,
        /// The (router address, preference level) entries.
        entries: RouterEntries<'a>,
    },
    /// Router solicitation (type 10, code 0, reserved word zero, no data; RFC 1256).
    RouterSolicitation,
    /// Timestamp request (type 13, code 0, exactly 20 bytes).
    Timestamp {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Originate timestamp (milliseconds since midnight UT).
        originate: u32,
        /// Receive timestamp.
        receive: u32,
        /// Transmit timestamp.
        transmit: u32,
    },
    /// Timestamp reply (type 14, code 0, exactly 20 bytes).
    TimestampReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Originate timestamp (milliseconds since midnight UT).
        originate: u32,
        /// Receive timestamp.
        receive: u32,
        /// Transmit timestamp.
        transmit: u32,
    },
    /// Any other well-formed message, held raw (unknown types, and known types whose bytes the
    /// dedicated variant cannot hold, e.g. an echo request with a non-zero code).
    Other {
        /// The type.
        msg_type: Message,
        /// The raw code.
        code: u8,
        /// The second word.
        rest_of_header: u32,
        /// The bytes after the 8-byte header.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads a message (checked again here), optionally verifying its checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &Packet<&'a T>,
        check: ChecksumCheck,
    ) -> Result<Repr<'a>> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum() {
            return Err(Error::BadChecksum {
                layer: Layer::Icmpv4,
            });
        }
        let b: &'a [u8] = p.buffer.as_ref();
        let data = &b[field::DATA];
        let code = p.code();
        let rest = p.rest_of_header();
        Ok(match (p.msg_type(), code) {
            (Message::EchoRequest, 0) => Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            (Message::EchoReply, 0) => Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            (Message::DstUnreachable, c) => Repr::DstUnreachable {
                reason: c.into(),
                next_hop_mtu: p.next_hop_mtu(),
                unused: (rest >> 16) as u16,
                invoking: data,
            },
            (Message::SourceQuench, 0) => Repr::SourceQuench {
                unused: rest,
                invoking: data,
            },
            (Message::Redirect, c) => Repr::Redirect {
                reason: c.into(),
                gateway: p.gateway(),
                invoking: data,
            },
            (Message::TimeExceeded, c) => Repr::TimeExceeded {
                reason: c.into(),
                unused: rest,
                invoking: data,
            },
            (Message::ParamProblem, c) => Repr::ParamProblem {
                reason: c.into(),
                pointer: p.pointer(),
                unused: [b[5], b[6], b[7]],
                invoking: data,
            },
            (Message::RouterAdvertisement, 0)
                if p.num_addrs() > 0
                    && data.len() == entries_len(p.num_addrs(), p.addr_entry_size()) =>
            {
                Repr::RouterAdvertisement {
                    lifetime: p.lifetime(),
                    entries: RouterEntries {
                        bytes: data,
                        entry_size: p.addr_entry_size(),
                    },
                }
            }
            (Message::RouterSolicitation, 0) if rest == 0 && data.is_empty() => {
                Repr::RouterSolicitation
            }
            (Message::Timestamp, 0) if b.len() == TIMESTAMP_LEN => Repr::Timestamp {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                originate: be32(b, field::ORIGINATE),
                receive: be32(b, field::RECEIVE),
                transmit: be32(b, field::TRANSMIT),
            },
            (Message::TimestampReply, 0) if b.len() == TIMESTAMP_LEN => Repr::TimestampReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                originate: be32(b, field::ORIGINATE),
                receive: be32(b, field::RECEIVE),
                transmit: be32(b, field::TRANSMIT),
            },
            (msg_type, code) => Repr::Other {
                msg_type,
                code,
                rest_of_header: rest,
                data,
            },
        })
    }

    /// A destination unreachable quoting `original` (IP header + 8 bytes, see
    /// [`quote_original`]). `mtu` is written only for [`DstUnreachable::FragRequired`]; the rest
    /// of the second word is zero.
    pub fn dst_unreachable(reason: DstUnreachable, mtu: u16, original: &'a [u8]) -> Repr<'a> {
        Repr::DstUnreachable {
            reason,
            next_hop_mtu: if reason == DstUnreachable::FragRequired {
                mtu
            } else {
                0
            },
            unused: 0,
            invoking: quote_original(original),
        }
    }

    /// A time exceeded quoting `original` (IP header + 8 bytes, see [`quote_original`]).
    pub fn time_exceeded(reason: TimeExceeded, original: &'a [u8]) -> Repr<'a> {
        Repr::TimeExceeded {
            reason,
            unused: 0,
            invoking: quote_original(original),
        }
    }

    /// The message type this value emits.
    pub fn msg_type(&self) -> Message {
        match self {
            Repr::EchoRequest { .. } => Message::EchoRequest,
            Repr::EchoReply { .. } => Message::EchoReply,
            Repr::DstUnreachable { .. } => Message::DstUnreachable,
            Repr::SourceQuench { .. } => Message::SourceQuench,
            Repr::Redirect { .. } => Message::Redirect,
            Repr::TimeExceeded { .. } => Message::TimeExceeded,
            Repr::ParamProblem { .. } => Message::ParamProblem,
            Repr::RouterAdvertisement { .. } => Message::RouterAdvertisement,
            Repr::RouterSolicitation => Message::RouterSolicitation,
            Repr::Timestamp { .. } => Message::Timestamp,
            Repr::TimestampReply { .. } => Message::TimestampReply,
            Repr::Other { msg_type, .. } => *msg_type,
        }
    }

    /// The raw code this value emits.
    pub fn code(&self) -> u8 {
        match *self {
            Repr::DstUnreachable { reason, .. } => reason.into(),
            Repr::Redirect { reason, .. } => reason.into(),
            Repr::TimeExceeded { reason, .. } => reason.into(),
            Repr::ParamProblem { reason, .. } => reason.into(),
            Repr::Other { code, .. } => code,
            _ => 0,
        }
    }

    /// The second word this value emits.
    fn rest_of_header(&self) -> u32 {
        let pair = |hi: u16, lo: u16| (u32::from(hi) << 16) | u32::from(lo);
        match *self {
            Repr::EchoRequest { ident, seq_no, .. }
            | Repr::EchoReply { ident, seq_no, .. }
            | Repr::Timestamp { ident, seq_no, .. }
            | Repr::TimestampReply { ident, seq_no, .. } => pair(ident, seq_no),
            Repr::DstUnreachable {
                next_hop_mtu,
                unused,
                ..
            } => pair(unused, next_hop_mtu),
            Repr::SourceQuench { unused, .. } | Repr::TimeExceeded { unused, .. } => unused,
            Repr::Redirect { gateway, .. } => u32::from(gateway),
            Repr::ParamProblem {
                pointer, unused, ..
            } => u32::from_be_bytes([pointer, unused[0], unused[1], unused[2]]),
            Repr::RouterAdvertisement { lifetime, entries } => {
                let n = entries.len() as u8;
                (u32::from(n) << 24) | (u32::from(entries.entry_size) << 16) | u32::from(lifetime)
            }
            Repr::RouterSolicitation => 0,
            Repr::Other { rest_of_header, .. } => rest_of_header,
        }
    }

    /// The bytes after the 8-byte header that this value copies (timestamps aside).
    fn body(&self) -> &'a [u8] {
        match *self {
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::Other { data, .. } => data,
            Repr::DstUnreachable { invoking, .. }
            | Repr::SourceQuench { invoking, .. }
            | Repr::Redirect { invoking, .. }
            | Repr::TimeExceeded { invoking, .. }
            | Repr::ParamProblem { invoking, .. } => invoking,
            Repr::RouterAdvertisement { entries, .. } => entries.bytes,
            Repr::RouterSolicitation | Repr::Timestamp { .. } | Repr::TimestampReply { .. } => &[],
        }
    }

    /// The quoted original datagram of an error message (`None` for other messages).
    pub fn invoking(&self) -> Option<&'a [u8]> {
        match *self {
            Repr::DstUnreachable { invoking, .. }
            | Repr::SourceQuench { invoking, .. }
            | Repr::Redirect { invoking, .. }
            | Repr::TimeExceeded { invoking, .. }
            | Repr::ParamProblem { invoking, .. } => Some(invoking),
            _ => None,
        }
    }

    /// The quoted original datagram of an error message, parsed (`None` for other messages;
    /// `Some(Err)` with an [`Layer::Ipv4`] error when the quote is not a valid IPv4 header).
    pub fn invoking_datagram(&self) -> Option<Result<Invoking<'a>>> {
        self.invoking().map(Invoking::parse)
    }

    /// The fixed header length (8; a timestamp's three words count as its body).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length of the whole message.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Timestamp { .. } | Repr::TimestampReply { .. } => TIMESTAMP_LEN,
            _ => HEADER_LEN + self.body().len(),
        }
    }

    /// Writes the whole message (copying the borrowed data) into the start of `p`, which must
    /// be at least `buffer_len` long, and computes the checksum over those `buffer_len` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_msg_type(self.msg_type());
        p.set_code(self.code());
        p.set_rest_of_header(self.rest_of_header());
        let body = self.body();
        p.payload_mut()[..body.len()].copy_from_slice(body);
        if let Repr::Timestamp {
            originate,
            receive,
            transmit,
            ..
        }
        | Repr::TimestampReply {
            originate,
            receive,
            transmit,
            ..
        } = *self
        {
            let b = p.buffer.as_mut();
            put32(b, field::ORIGINATE, originate);
            put32(b, field::RECEIVE, receive);
            put32(b, field::TRANSMIT, transmit);
        }
        p.fill_checksum_over(self.buffer_len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChecksumMode;
    use std::vec;
    use std::vec::Vec;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

    /// Emits on a 0xa5 buffer, checks the checksum, parses back and re-emits byte-exact.
    #[track_caller]
    fn round_trip(r: &Repr<'_>) -> Vec<u8> {
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(), "{r:?}");
        let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        assert_eq!(&parsed, r);
        assert_eq!(parsed.buffer_len(), buf.len());
        let mut again = vec![0xa5u8; parsed.buffer_len()];
        parsed.emit(&mut Packet::new_unchecked(&mut again[..]));
        assert_eq!(again, buf);
        buf
    }

    /// A 20-byte IPv4 header with a computed checksum, followed by `payload`.
    fn datagram(protocol: Protocol, total_len: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 20 + payload.len()];
        let r = ipv4::Repr {
            ident: 0x1c46,
            dont_frag: true,
            ..ipv4::Repr::new(A, B, protocol, usize::from(total_len) - 20, 64)
        };
        r.emit(
            &mut ipv4::Packet::new_unchecked(&mut v[..]),
            ChecksumMode::Compute,
        );
        v[20..].copy_from_slice(payload);
        v
    }

    #[test]
    fn echo_bytes_and_round_trip() {
        let r = Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 0xabcd,
            data: b"ping",
        };
        let buf = round_trip(&r);
        let mut expect = vec![8, 0, 0, 0, 0x12, 0x34, 0xab, 0xcd, b'p', b'i', b'n', b'g'];
        let c = checksum::checksum(&expect);
        expect[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(buf, expect);
        let reply = Repr::EchoReply {
            ident: 0x1234,
            seq_no: 0xabcd,
            data: b"ping",
        };
        assert_eq!(round_trip(&reply)[0], 0);
        // Independent check of the checksum against etherparse.
        let e = etherparse::Icmpv4Slice::from_slice(&buf).unwrap();
        let h = etherparse::Icmpv4Header::with_checksum(e.icmp_type(), e.payload());
        assert_eq!(h.checksum, u16::from_be_bytes([buf[2], buf[3]]));
    }

    #[test]
    fn round_trip_every_kind() {
        let quoted = datagram(
            Protocol::UDP,
            60,
            &[0x30, 0x39, 0x82, 0x9b, 0, 40, 0xde, 0xad],
        );
        let mut entry_buf = [0u8; 16];
        let entries = RouterEntries::encode(&mut entry_buf, &[(A, 0), (B, i32::MIN)]).unwrap();
        let wide = [1u8; 24]; // two entries of 3 words each
        let kinds = [
            Repr::EchoRequest {
                ident: 1,
                seq_no: 2,
                data: &[],
            },
            Repr::EchoReply {
                ident: 0xffff,
                seq_no: 0,
                data: &[0; 57],
            },
            Repr::dst_unreachable(DstUnreachable::PortUnreachable, 1500, &quoted),
            Repr::dst_unreachable(DstUnreachable::FragRequired, 1280, &quoted),
            Repr::DstUnreachable {
                reason: DstUnreachable::Unknown(200),
                next_hop_mtu: 0x0102,
                unused: 0x0011,
                invoking: &quoted,
            },
            Repr::SourceQuench {
                unused: 0,
                invoking: &quoted,
            },
            Repr::Redirect {
                reason: Redirect::HostToS,
                gateway: B,
                invoking: &quoted,
            },
            Repr::time_exceeded(TimeExceeded::TtlExpired, &quoted),
            Repr::TimeExceeded {
                reason: TimeExceeded::FragReassemblyExpired,
                unused: 0x0007_0000,
                invoking: &quoted,
            },
            Repr::ParamProblem {
                reason: ParamProblem::PointerIndicatesError,
                pointer: 20,
                unused: [0, 0, 0],
                invoking: &quoted,
            },
            Repr::ParamProblem {
                reason: ParamProblem::Unknown(9),
                pointer: 1,
                unused: [1, 2, 3],
                invoking: &[],
            },
            Repr::RouterAdvertisement {
                lifetime: 1800,
                entries,
            },
            Repr::RouterAdvertisement {
                lifetime: 0,
                entries: RouterEntries::new(&wide, 3).unwrap(),
            },
            Repr::RouterSolicitation,
            Repr::Timestamp {
                ident: 7,
                seq_no: 8,
                originate: 1,
                receive: 0,
                transmit: 0,
            },
            Repr::TimestampReply {
                ident: 7,
                seq_no: 8,
                originate: 1,
                receive: 2,
                transmit: 3,
            },
            // Known types whose bytes the dedicated variants cannot hold, and unknown types.
            Repr::Other {
                msg_type: Message::EchoRequest,
                code: 3,
                rest_of_header: 0x0102_0304,
                data: b"x",
            },
            Repr::Other {
                msg_type: Message::RouterSolicitation,
                code: 0,
                rest_of_header: 1,
                data: &[],
            },
            Repr::Other {
                msg_type: Message::RouterAdvertisement,
                code: 16,
                rest_of_header: 0x0102_0000,
                data: &[9; 12],
            },
            Repr::Other {
                msg_type: Message::Timestamp,
                code: 0,
                rest_of_header: 0,
                data: &[0; 13],
            },
            Repr::Other {
                msg_type: Message::AddressMaskReply,
                code: 0,
                rest_of_header: 5,
                data: &[255, 255, 255, 0],
            },
            Repr::Other {
                msg_type: Message::Unknown(42),
                code: 99,
                rest_of_header: u32::MAX,
                data: &[0xa5; 3],
            },
        ];
        for r in &kinds {
            round_trip(r);
        }
        // Field placement of a few kinds.
        let ra = round_trip(&kinds[11]);
        assert_eq!(
            ra[..8],
            [9, 0, ra[2], ra[3], 2, 2, 0x07, 0x08],
            "RFC 1256 header"
        );
        assert_eq!(
            ra[8..],
            [198, 18, 0, 1, 0, 0, 0, 0, 198, 19, 0, 2, 0x80, 0, 0, 0]
        );
        let redirect = round_trip(&kinds[6]);
        assert_eq!(redirect[..2], [5, 3]);
        assert_eq!(redirect[4..8], B.octets());
        let ts = round_trip(&kinds[15]);
        assert_eq!(ts[8..], [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
        let pp = round_trip(&kinds[10]);
        assert_eq!(pp[..2], [12, 9]);
        assert_eq!(pp[4..8], [1, 1, 2, 3]);
    }

    /// The seeds' capture: Destination Unreachable, Fragmentation Needed and DF set, Next Hop
    /// MTU = 576, 28 quoted bytes (a 1000-byte `ping -f` from 10.99.99.9 to 10.99.99.10; IP
    /// length 56). The quoted IP identification, TTL and echo identifier/sequence are not in
    /// the capture text and are chosen here; checksums are computed, not taken from the seed.
    #[test]
    fn seed_fragmentation_needed_mtu_576() {
        let mut quoted: Vec<u8> = vec![
            0x45, 0x00, 0x04, 0x04, // v4, IHL 5; total length 1028 = 20 + 8 + 1000
            0x2a, 0x07, 0x40, 0x00, // ident; DF, offset 0
            0x80, 0x01, 0x00, 0x00, // TTL 128, ICMP, checksum (filled below)
            10, 99, 99, 9, // source
            10, 99, 99, 10, // destination
            0x08, 0x00, 0x00, 0x00, // echo request, checksum (not checked in a quote)
            0x02, 0x00, 0x4d, 0x00, // identifier 0x0200, sequence 0x4d00
        ];
        let c = checksum::checksum(&quoted[..20]);
        quoted[10..12].copy_from_slice(&c.to_be_bytes());
        let mut msg = vec![3u8, 4, 0, 0, 0x00, 0x00, 0x02, 0x40];
        msg.extend_from_slice(&quoted);
        let c = checksum::checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(msg.len(), 36); // + 20-byte IP header = the capture's "Len: 56"

        let p = Packet::new_checked(&msg[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.msg_type(), Message::DstUnreachable);
        assert_eq!(p.next_hop_mtu(), 576);
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        assert_eq!(
            r,
            Repr::DstUnreachable {
                reason: DstUnreachable::FragRequired,
                next_hop_mtu: 576,
                unused: 0,
                invoking: &quoted,
            }
        );
        let mut again = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut again[..]));
        assert_eq!(again, msg);

        let inv = r.invoking_datagram().unwrap().unwrap();
        assert_eq!(inv.header.src_addr, Ipv4Addr::new(10, 99, 99, 9));
        assert_eq!(inv.header.dst_addr, Ipv4Addr::new(10, 99, 99, 10));
        assert_eq!(inv.header.protocol, Protocol::ICMP);
        assert!(inv.header.dont_frag);
        assert_eq!(inv.header.payload_len, 1008);
        assert_eq!(inv.payload.len(), 8);
        assert_eq!(inv.echo_ident_seq_no(), Some((0x0200, 0x4d00)));
        assert_eq!(inv.ports(), None);

        // The stack-side constructor quotes exactly these 28 bytes of the whole 1028-byte
        // original and produces the same message.
        let mut original = quoted.clone();
        original.resize(1028, 0x61);
        let built = Repr::dst_unreachable(DstUnreachable::FragRequired, 576, &original);
        assert_eq!(built, r);

        // etherparse reads the same MTU and agrees on the checksum.
        let e = etherparse::Icmpv4Slice::from_slice(&msg).unwrap();
        let t = e.icmp_type();
        assert_eq!(
            t,
            etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 576
                }
            )
        );
        assert_eq!(
            etherparse::Icmpv4Header::with_checksum(t, e.payload()).checksum,
            p.checksum()
        );
    }

    #[test]
    fn quoted_transport_ports_and_tcp_sequence() {
        // Traceroute-style UDP probe, port unreachable back from the target.
        let udp = datagram(Protocol::UDP, 60, &[0x82, 0x9b, 0x82, 0xbe, 0, 40, 0, 0]);
        let mut padded = udp.clone();
        padded.extend_from_slice(&[0u8; 32]);
        let r = Repr::dst_unreachable(DstUnreachable::PortUnreachable, 576, &padded);
        // The MTU is only written for FragRequired.
        assert!(matches!(
            r,
            Repr::DstUnreachable {
                next_hop_mtu: 0,
                invoking,
                ..
            } if invoking.len() == 28
        ));
        let inv = r.invoking_datagram().unwrap().unwrap();
        assert_eq!(inv.ports(), Some((33435, 33470)));
        assert_eq!(inv.tcp_seq_number(), None);
        assert_eq!((inv.header.src_addr, inv.header.dst_addr), (A, B));

        // A TCP segment quoted by a time exceeded: ports and sequence number.
        let tcp = datagram(
            Protocol::TCP,
            1500,
            &[0xc0, 0x01, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0],
        );
        let r = Repr::time_exceeded(TimeExceeded::TtlExpired, &tcp);
        let buf = round_trip(&r);
        let p = Packet::new_checked(&buf[..]).unwrap();
        let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        let inv = parsed.invoking_datagram().unwrap().unwrap();
        assert_eq!(inv.payload.len(), 8);
        assert_eq!(inv.ports(), Some((49153, 80)));
        assert_eq!(inv.tcp_seq_number(), Some(0xdead_beef));
        assert_eq!(inv.echo_ident_seq_no(), None);

        // A later fragment carries no transport header.
        let mut frag = tcp.clone();
        frag[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        let inv = Invoking::parse(quote_original(&frag)).unwrap();
        assert!(!inv.is_first_fragment());
        assert_eq!((inv.ports(), inv.tcp_seq_number()), (None, None));

        // Short quotes: only what is present, cut at the quoted total length.
        let short = datagram(Protocol::UDP, 22, &[0x12, 0x34]);
        let inv = Invoking::parse(&short).unwrap();
        assert_eq!(inv.payload, &[0x12, 0x34]);
        assert_eq!(inv.ports(), None);
        assert_eq!(quote_original(&short).len(), 22);
        assert_eq!(quote_original(&[]), &[] as &[u8]);

        // Not an error message, or a quote that is no IPv4 header.
        let echo = Repr::EchoRequest {
            ident: 0,
            seq_no: 0,
            data: &udp,
        };
        assert!(echo.invoking_datagram().is_none());
        let bad = Repr::SourceQuench {
            unused: 0,
            invoking: &udp[..12],
        };
        assert_eq!(
            bad.invoking_datagram().unwrap().unwrap_err(),
            Error::Truncated {
                layer: Layer::Ipv4,
                need: 20,
                have: 12
            }
        );
        let mut v6 = udp.clone();
        v6[0] = 0x60;
        let bad = Repr::TimeExceeded {
            reason: TimeExceeded::TtlExpired,
            unused: 0,
            invoking: &v6,
        };
        assert!(matches!(
            bad.invoking_datagram(),
            Some(Err(Error::UnsupportedVersion { version: 6, .. }))
        ));
    }

    #[test]
    fn router_advertisement_with_two_entries() {
        // RFC 1256 §3: num addrs 2, entry size 2, lifetime 1800, preferences 5 and -1.
        let mut msg = vec![
            9, 0, 0, 0, 2, 2, 0x07, 0x08, // header
            198, 18, 0, 1, 0, 0, 0, 5, // router 1, preference 5
            198, 18, 0, 2, 0xff, 0xff, 0xff, 0xff, // router 2, preference -1
        ];
        let c = checksum::checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Packet::new_checked(&msg[..]).unwrap();
        assert_eq!(
            (p.num_addrs(), p.addr_entry_size(), p.lifetime()),
            (2, 2, 1800)
        );
        let from_view: Vec<_> = p.router_entries().unwrap().into_iter().collect();
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        let Repr::RouterAdvertisement { lifetime, entries } = r else {
            panic!("{r:?}");
        };
        assert_eq!(lifetime, 1800);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries.iter().len(), 2);
        let got: Vec<_> = entries.iter().collect();
        let want = [
            (Ipv4Addr::new(198, 18, 0, 1), 5),
            (Ipv4Addr::new(198, 18, 0, 2), -1),
        ];
        assert_eq!(got, want);
        assert_eq!(from_view, want);
        let mut eb = [0xa5u8; 20];
        let encoded = RouterEntries::encode(&mut eb, &want).unwrap();
        assert_eq!(
            Repr::RouterAdvertisement {
                lifetime: 1800,
                entries: encoded
            },
            r
        );
        assert_eq!(round_trip(&r), msg);
        assert!(p.timestamps().is_none());
        assert_eq!(std::format!("{entries:?}").matches("198.18.0").count(), 2);
        // No entries: RFC 1256 §5.2 says discard, so it is not a RouterAdvertisement.
        let mut empty = vec![9u8, 0, 0, 0, 0, 2, 0, 30];
        let c = checksum::checksum(&empty);
        empty[2..4].copy_from_slice(&c.to_be_bytes());
        let r = Repr::parse(
            &Packet::new_checked(&empty[..]).unwrap(),
            ChecksumCheck::Verify,
        );
        assert!(matches!(r, Ok(Repr::Other { .. })));
        assert_eq!(
            Packet::new_checked(&empty[..]).unwrap().router_entries(),
            Some(RouterEntries {
                bytes: &[],
                entry_size: 2
            })
        );
    }

    #[test]
    fn checksum_errors() {
        let r = Repr::time_exceeded(
            TimeExceeded::TtlExpired,
            &[
                0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 198, 18, 0, 1, 198, 19, 0, 2, 1, 2, 3, 4,
                0, 8, 0, 0,
            ],
        );
        let good = round_trip(&r);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            let p = Packet::new_checked(&bad[..]).unwrap();
            assert!(!p.verify_checksum());
            assert_eq!(
                Repr::parse(&p, ChecksumCheck::Verify).unwrap_err(),
                Error::BadChecksum {
                    layer: Layer::Icmpv4
                }
            );
            // Trusted (NIC-verified) input still parses and re-emits with a fresh checksum.
            let t = Repr::parse(&p, ChecksumCheck::Trust).unwrap();
            let mut out = vec![0u8; t.buffer_len()];
            t.emit(&mut Packet::new_unchecked(&mut out[..]));
            assert!(Packet::new_unchecked(&out[..]).verify_checksum());
        }
        // fill_checksum repairs a view in place; an odd-length message is padded per RFC 1071.
        let mut odd = vec![8u8, 0, 0, 0, 0, 1, 0, 2, 0xff];
        let mut p = Packet::new_checked(&mut odd[..]).unwrap();
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
    }

    #[test]
    fn every_length_error() {
        let l = Layer::Icmpv4;
        for n in 0..8 {
            assert_eq!(
                Packet::new_checked(&[8u8; 7][..n]).unwrap_err(),
                Error::Truncated {
                    layer: l,
                    need: 8,
                    have: n
                }
            );
        }
        // Router advertisement: entry size below 2, entries cut short.
        for size in [0u8, 1] {
            assert_eq!(
                Packet::new_checked(&[9u8, 0, 0, 0, 1, size, 0, 0, 0, 0, 0, 0][..]).unwrap_err(),
                Error::Malformed {
                    layer: l,
                    what: "router advertisement address entry size below 2"
                }
            );
        }
        let ra = [9u8, 0, 0, 0, 3, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0];
        assert_eq!(
            Packet::new_checked(&ra[..]).unwrap_err(),
            Error::Truncated {
                layer: l,
                need: 32,
                have: 16
            }
        );
        assert!(Packet::new_unchecked(&ra[..]).router_entries().is_none());
        let wide = [9u8, 0, 0, 0, 1, 4, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0];
        assert_eq!(
            Packet::new_checked(&wide[..]).unwrap_err(),
            Error::Truncated {
                layer: l,
                need: 24,
                have: 16
            }
        );
        // Timestamps need 20 bytes.
        for t in [13u8, 14] {
            assert_eq!(
                Packet::new_checked(&[t, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]).unwrap_err(),
                Error::Truncated {
                    layer: l,
                    need: 20,
                    have: 12
                }
            );
            assert!(Packet::new_unchecked(&[t; 12][..]).timestamps().is_none());
        }
        // Repr::parse re-checks an unchecked view.
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&[0u8; 4][..]), ChecksumCheck::Trust),
            Err(Error::Truncated { need: 8, .. })
        ));
        // Entry lists.
        assert!(matches!(
            RouterEntries::new(&[0; 8], 1),
            Err(Error::Malformed { .. })
        ));
        for bad in [0usize, 4, 12, 256 * 8] {
            assert_eq!(
                RouterEntries::new(&vec![0u8; bad], 2).unwrap_err(),
                Error::BadLength {
                    layer: l,
                    value: bad
                }
            );
        }
        assert_eq!(RouterEntries::new(&[0; 255 * 8], 2).unwrap().len(), 255);
        assert_eq!(
            RouterEntries::encode(&mut [0u8; 15], &[(A, 1), (B, 2)]).unwrap_err(),
            Error::Truncated {
                layer: l,
                need: 16,
                have: 15
            }
        );
        assert!(RouterEntries::encode(&mut [0u8; 8], &[]).is_err());
    }

    #[test]
    fn view_setters_and_getters() {
        let mut buf = [0xa5u8; 20];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Message::Timestamp);
        p.set_code(0);
        p.set_echo_ident(0x0102);
        p.set_echo_seq_no(0x0304);
        assert_eq!(p.rest_of_header(), 0x0102_0304);
        p.payload_mut().fill(0);
        p.payload_mut()[3] = 9;
        p.fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.timestamps(), Some((9, 0, 0)));
        assert!(p.router_entries().is_none());
        let mut buf = [0u8; 8];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_gateway(A);
        assert_eq!(p.gateway(), A);
        p.set_pointer(7);
        p.set_next_hop_mtu(1492);
        assert_eq!((p.pointer(), p.next_hop_mtu()), (7, 1492));
        p.set_num_addrs(1);
        p.set_addr_entry_size(2);
        p.set_lifetime(600);
        assert_eq!(p.rest_of_header(), 0x0102_0258);
        p.set_rest_of_header(0);
        p.set_checksum(0xbeef);
        assert_eq!(p.checksum(), 0xbeef);
        assert_eq!(p.into_inner(), &[0, 0, 0xbe, 0xef, 0, 0, 0, 0]);
    }

    #[test]
    fn codes_convert_both_ways() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Message::from(v)), v);
            assert_eq!(u8::from(DstUnreachable::from(v)), v);
            assert_eq!(u8::from(Redirect::from(v)), v);
            assert_eq!(u8::from(TimeExceeded::from(v)), v);
            assert_eq!(u8::from(ParamProblem::from(v)), v);
        }
        assert_eq!(DstUnreachable::from(13), DstUnreachable::CommProhibited);
        assert_eq!(DstUnreachable::from(15), DstUnreachable::PrecedenceCutoff);
        assert_eq!(DstUnreachable::from(16), DstUnreachable::Unknown(16));
        assert_eq!(Message::from(9), Message::RouterAdvertisement);
        let errors: Vec<u8> = (0..=255u8)
            .filter(|&v| Message::from(v).is_error())
            .collect();
        assert_eq!(errors, [3, 4, 5, 11, 12]);
    }

    proptest::proptest! {
        /// Any message `new_checked` accepts parses and re-emits byte-exact; nothing panics.
        #[test]
        fn any_checked_message_round_trips(
            ty in proptest::prop_oneof![0u8..=18, proptest::prelude::any::<u8>()],
            code in proptest::prop_oneof![0u8..=1, proptest::prelude::any::<u8>()],
            rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..72),
            small in 0u8..4,
        ) {
            let mut msg = vec![ty, code, 0, 0];
            msg.extend_from_slice(&rest);
            if msg.len() >= 6 && ty == 9 {
                // Make router advertisements plausible often enough to exercise entries.
                msg[4] = small;
                msg[5] = 2 + small % 2;
            }
            let Ok(p) = Packet::new_checked(&mut msg[..]) else {
                return Ok(());
            };
            let mut p = p;
            p.fill_checksum();
            let p = Packet::new_checked(&msg[..]).unwrap();
            let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
            let _ = r.invoking_datagram();
            proptest::prop_assert_eq!(r.buffer_len(), msg.len());
            let mut out = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut out[..]));
            proptest::prop_assert_eq!(out, msg);
        }
    }
}
