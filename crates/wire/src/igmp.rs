//! IGMP: version 1 (RFC 1112), version 2 (RFC 2236) and version 3 (RFC 3376) messages.
//!
//! A [`Packet`] views one whole IGMP message: exactly the IPv4 payload, as
//! [`crate::ipv4::Packet::payload`] returns it, because the checksum covers every byte of it
//! (RFC 3376 §4.1.2, §4.2.3; RFC 2236 §2.3). [`Packet::new_checked`] validates the length once,
//! per message type:
//!
//! * every message has at least 8 bytes;
//! * a membership query (0x11) of exactly 8 bytes is a v1 query (max resp code 0) or a v2 query;
//!   9 to 11 bytes is an error (RFC 3376 §7.1 says to ignore it); 12 bytes or more is a v3 query
//!   and must hold its `12 + 4 * N` bytes of sources;
//! * a v3 membership report (0x22) must hold every group record its count announces, each
//!   `8 + 4 * sources + 4 * aux words` bytes long;
//! * other types (v1/v2 reports, leave, and types this module does not know) need 8 bytes.
//!
//! Bytes past the end the fields describe are "additional data": they count in the checksum and
//! are otherwise ignored (RFC 3376 §4.1.10, §4.2.11, RFC 2236 §2.5); see
//! [`Packet::additional_data`]. After a successful `new_checked`, no getter, setter or list
//! accessor panics; v3 fields read as zero/empty on a message that does not carry them and
//! their setters do nothing on a buffer too short for them.
//!
//! [`Repr`] borrows source lists and group records from the buffer ([`SourceList`],
//! [`GroupRecords`]), so parsing allocates nothing. The same two types can also wrap values the
//! stack built (`&[Ipv4Addr]`, `&[GroupRecord]`), so a report is emitted from a plain
//! [`Repr::MembershipReportV3`] or with [`emit_v3_report`]; no separate builder is needed.
//!
//! Parse → emit is byte-exact for every message whose reserved/unused fields are zero and which
//! has no additional data (which is what Linux and RFC-conforming senders transmit): the raw
//! max resp code and QQIC bytes are kept, because their floating-point encoding
//! ([`decode_code`] / [`encode_code`]) is lossy above 127, and group records keep their record
//! type (known or not) and auxiliary data. Emitters write zero into reserved fields and never
//! write additional data (RFC 3376 §4.1.10 forbids sending it).

use core::fmt;
use core::hash::{Hash, Hasher};
use core::net::Ipv4Addr;

use crate::{be16, checksum, put16, ChecksumCheck, Error, Layer, Result};

/// Length of the fixed part every IGMP message has (and the whole of a v1/v2 message).
pub const HEADER_LEN: usize = 8;
/// Length of a v3 query before its source list.
pub const QUERY_V3_HEADER_LEN: usize = 12;
/// Length of a v3 group record before its source list.
pub const GROUP_RECORD_HEADER_LEN: usize = 8;
/// Largest value the v3 max resp code / QQIC encoding represents: `(0x0f | 0x10) << (7 + 3)`
/// (code 0xff, RFC 3376 §4.1.1).
pub const MAX_CODE_VALUE: u32 = 31744;
/// Max resp time (tenths of a second) a v1 query's zero field stands for (RFC 2236 §4).
pub const V1_QUERY_MAX_RESP_TIME: u32 = 100;
/// Largest auxiliary data of a group record: 255 32-bit words.
pub const MAX_AUX_DATA_LEN: usize = 255 * 4;

/// The all-systems group 224.0.0.1 (general queries are sent there).
pub const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// The all-routers group 224.0.0.2 (v2 leave messages are sent there).
pub const ALL_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// The all-IGMPv3-capable-routers group 224.0.0.22 (v3 reports are sent there).
pub const ALL_V3_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);

/// Decodes a v3 max resp code or QQIC (RFC 3376 §4.1.1, §4.1.7): below 128 the value itself,
/// otherwise `(mant | 0x10) << (exp + 3)` from the bits `1 exp(3) mant(4)`. The unit is the
/// field's: tenths of a second for max resp code, seconds for QQIC.
pub const fn decode_code(code: u8) -> u32 {
    if code < 128 {
        code as u32
    } else {
        let exp = (code >> 4) & 0x07;
        let mant = code & 0x0f;
        ((mant as u32) | 0x10) << (exp + 3)
    }
}

/// Encodes a value for a v3 max resp code or QQIC: exact below 128, otherwise the largest
/// representable value not above `value` (so a timer never grows), saturating at
/// [`MAX_CODE_VALUE`] (code 0xff).
pub const fn encode_code(value: u32) -> u8 {
    if value < 128 {
        value as u8
    } else if value >= MAX_CODE_VALUE {
        0xff
    } else {
        // value has 8..=15 significant bits; shifting by exp + 3 leaves 16..=31 (5 bits, the
        // top one implicit), and the shift truncates, i.e. rounds down.
        let exp = 32 - value.leading_zeros() - 8;
        let mant = (value >> (exp + 3)) & 0x0f;
        0x80 | ((exp as u8) << 4) | mant as u8
    }
}

/// An IGMP message type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    /// Membership query, every version (0x11).
    pub const MEMBERSHIP_QUERY: MessageType = MessageType(0x11);
    /// Version 1 membership report (0x12).
    pub const MEMBERSHIP_REPORT_V1: MessageType = MessageType(0x12);
    /// Version 2 membership report (0x16).
    pub const MEMBERSHIP_REPORT_V2: MessageType = MessageType(0x16);
    /// Version 2 leave group (0x17).
    pub const LEAVE_GROUP: MessageType = MessageType(0x17);
    /// Version 3 membership report (0x22).
    pub const MEMBERSHIP_REPORT_V3: MessageType = MessageType(0x22);
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MessageType::MEMBERSHIP_QUERY => f.write_str("MembershipQuery"),
            MessageType::MEMBERSHIP_REPORT_V1 => f.write_str("MembershipReportV1"),
            MessageType::MEMBERSHIP_REPORT_V2 => f.write_str("MembershipReportV2"),
            MessageType::LEAVE_GROUP => f.write_str("LeaveGroup"),
            MessageType::MEMBERSHIP_REPORT_V3 => f.write_str("MembershipReportV3"),
            MessageType(t) => write!(f, "0x{t:02x}"),
        }
    }
}

/// The IGMP version of a membership query (RFC 3376 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 8 bytes, max resp code 0.
    V1,
    /// 8 bytes, max resp code non-zero.
    V2,
    /// 12 bytes or more.
    V3,
}

/// The type of a v3 group record (RFC 3376 §4.2.12). Unknown types are kept as they are
/// (receivers ignore them) so a record re-emits byte-exact.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType(pub u8);

impl RecordType {
    /// MODE_IS_INCLUDE (1): current state, include mode.
    pub const MODE_IS_INCLUDE: RecordType = RecordType(1);
    /// MODE_IS_EXCLUDE (2): current state, exclude mode.
    pub const MODE_IS_EXCLUDE: RecordType = RecordType(2);
    /// CHANGE_TO_INCLUDE_MODE (3): filter mode changed to include (a leave when empty).
    pub const CHANGE_TO_INCLUDE_MODE: RecordType = RecordType(3);
    /// CHANGE_TO_EXCLUDE_MODE (4): filter mode changed to exclude (a join when empty).
    pub const CHANGE_TO_EXCLUDE_MODE: RecordType = RecordType(4);
    /// ALLOW_NEW_SOURCES (5): sources added.
    pub const ALLOW_NEW_SOURCES: RecordType = RecordType(5);
    /// BLOCK_OLD_SOURCES (6): sources removed.
    pub const BLOCK_OLD_SOURCES: RecordType = RecordType(6);

    /// Whether RFC 3376 defines this type (1..=6).
    pub const fn is_known(&self) -> bool {
        matches!(self.0, 1..=6)
    }
}

impl fmt::Debug for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordType::MODE_IS_INCLUDE => f.write_str("MODE_IS_INCLUDE"),
            RecordType::MODE_IS_EXCLUDE => f.write_str("MODE_IS_EXCLUDE"),
            RecordType::CHANGE_TO_INCLUDE_MODE => f.write_str("CHANGE_TO_INCLUDE_MODE"),
            RecordType::CHANGE_TO_EXCLUDE_MODE => f.write_str("CHANGE_TO_EXCLUDE_MODE"),
            RecordType::ALLOW_NEW_SOURCES => f.write_str("ALLOW_NEW_SOURCES"),
            RecordType::BLOCK_OLD_SOURCES => f.write_str("BLOCK_OLD_SOURCES"),
            RecordType(t) => write!(f, "RecordType({t})"),
        }
    }
}

mod field {
    use crate::Field;
    pub(crate) const TYPE: usize = 0;
    pub(crate) const MAX_RESP_CODE: usize = 1;
    pub(crate) const CHECKSUM: usize = 2;
    pub(crate) const GROUP_ADDR: Field = 4..8;
    // v3 query (RFC 3376 §4.1).
    pub(crate) const S_QRV: usize = 8;
    pub(crate) const QQIC: usize = 9;
    pub(crate) const NUM_SOURCES: usize = 10;
    pub(crate) const QUERY_SOURCES: usize = 12;
    // v3 report (RFC 3376 §4.2).
    pub(crate) const REPORT_RESERVED: Field = 4..6;
    pub(crate) const NUM_RECORDS: usize = 6;
    pub(crate) const RECORDS: usize = 8;
    // Group record, relative to its start.
    pub(crate) const REC_TYPE: usize = 0;
    pub(crate) const REC_AUX_LEN: usize = 1;
    pub(crate) const REC_NUM_SOURCES: usize = 2;
    pub(crate) const REC_GROUP: Field = 4..8;
    pub(crate) const REC_SOURCES: usize = 8;
}

/// The S flag bit in the S/QRV byte; the top nibble is reserved.
const S_FLAG: u8 = 0x08;
/// The QRV bits in the S/QRV byte.
const QRV_MASK: u8 = 0x07;

fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Moves a `Truncated` error found in a sub-slice starting at `off` to whole-message offsets.
fn shift_error(e: Error, off: usize) -> Error {
    match e {
        Error::Truncated { layer, need, have } => Error::Truncated {
            layer,
            need: need + off,
            have: have + off,
        },
        e => e,
    }
}

/// Walks `count` group records starting at `field::RECORDS`; returns where the last one ends.
fn records_end(b: &[u8], count: u16) -> Result<usize> {
    let mut off = field::RECORDS;
    for _ in 0..count {
        let rest = b.get(off..).unwrap_or(&[]);
        let rec = GroupRecord::parse(rest).map_err(|e| shift_error(e, off))?;
        off += rec.buffer_len();
    }
    Ok(off)
}

/// A list of IPv4 source addresses: either the raw bytes of a received message or a slice the
/// stack built. Equality and hashing compare the addresses, whichever form holds them.
#[derive(Clone, Copy)]
pub struct SourceList<'a>(Sources<'a>);

#[derive(Clone, Copy)]
enum Sources<'a> {
    /// Wire bytes, a multiple of 4 long.
    Wire(&'a [u8]),
    /// Addresses built by the stack.
    Addrs(&'a [Ipv4Addr]),
}

impl SourceList<'static> {
    /// No sources.
    pub const EMPTY: SourceList<'static> = SourceList(Sources::Addrs(&[]));
}

impl Default for SourceList<'_> {
    fn default() -> Self {
        SourceList::EMPTY
    }
}

impl<'a> SourceList<'a> {
    /// Wraps wire bytes: a multiple of 4 long, at most 65535 addresses.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() % 4 != 0 {
            return Err(Error::Malformed {
                layer: Layer::Igmp,
                what: "source list not a multiple of 4 bytes",
            });
        }
        if bytes.len() / 4 > usize::from(u16::MAX) {
            return Err(Error::Malformed {
                layer: Layer::Igmp,
                what: "more than 65535 sources",
            });
        }
        Ok(SourceList(Sources::Wire(bytes)))
    }

    /// Wraps addresses the stack built (at most 65535, the most a count field holds).
    pub fn from_addrs(addrs: &'a [Ipv4Addr]) -> Result<Self> {
        if addrs.len() > usize::from(u16::MAX) {
            return Err(Error::Malformed {
                layer: Layer::Igmp,
                what: "more than 65535 sources",
            });
        }
        Ok(SourceList(Sources::Addrs(addrs)))
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        match self.0 {
            Sources::Wire(b) => b.len() / 4,
            Sources::Addrs(a) => a.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th address.
    pub fn get(&self, i: usize) -> Option<Ipv4Addr> {
        self.iter().nth(i)
    }

    /// Iterates over the addresses.
    pub fn iter(&self) -> SourceIter<'a> {
        SourceIter(match self.0 {
            Sources::Wire(b) => SourceIterInner::Wire(b.chunks_exact(4)),
            Sources::Addrs(a) => SourceIterInner::Addrs(a.iter()),
        })
    }

    /// Bytes the list takes on the wire (4 per address).
    pub fn buffer_len(&self) -> usize {
        self.len() * 4
    }

    /// Writes the addresses into `out` (exactly `buffer_len` bytes).
    fn emit(&self, out: &mut [u8]) {
        match self.0 {
            Sources::Wire(b) => out.copy_from_slice(b),
            Sources::Addrs(a) => {
                for (chunk, addr) in out.chunks_exact_mut(4).zip(a) {
                    chunk.copy_from_slice(&addr.octets());
                }
            }
        }
    }
}

impl PartialEq for SourceList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SourceList<'_> {}

impl Hash for SourceList<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for a in self.iter() {
            a.hash(state);
        }
    }
}

impl fmt::Debug for SourceList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for SourceList<'a> {
    type Item = Ipv4Addr;
    type IntoIter = SourceIter<'a>;

    fn into_iter(self) -> SourceIter<'a> {
        self.iter()
    }
}

/// Iterator over the addresses of a [`SourceList`].
#[derive(Debug, Clone)]
pub struct SourceIter<'a>(SourceIterInner<'a>);

#[derive(Debug, Clone)]
enum SourceIterInner<'a> {
    Wire(core::slice::ChunksExact<'a, u8>),
    Addrs(core::slice::Iter<'a, Ipv4Addr>),
}

impl Iterator for SourceIter<'_> {
    type Item = Ipv4Addr;

    fn next(&mut self) -> Option<Ipv4Addr> {
        match &mut self.0 {
            SourceIterInner::Wire(c) => c.next().map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3])),
            SourceIterInner::Addrs(a) => a.next().copied(),
        }
    }

    fn nth(&mut self, n: usize) -> Option<Ipv4Addr> {
        match &mut self.0 {
            SourceIterInner::Wire(c) => c.nth(n).map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3])),
            SourceIterInner::Addrs(a) => a.nth(n).copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            SourceIterInner::Wire(c) => c.size_hint(),
            SourceIterInner::Addrs(a) => a.size_hint(),
        }
    }
}

impl ExactSizeIterator for SourceIter<'_> {}

/// One v3 group record (RFC 3376 §4.2.4): parsed from a report, or built by the stack with
/// [`GroupRecord::new`]. Fields are private so that every value is emittable (counts fit, aux
/// data is whole words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupRecord<'a> {
    record_type: RecordType,
    group_addr: Ipv4Addr,
    sources: SourceList<'a>,
    aux_data: &'a [u8],
}

impl<'a> GroupRecord<'a> {
    /// A record without auxiliary data.
    pub const fn new(
        record_type: RecordType,
        group_addr: Ipv4Addr,
        sources: SourceList<'a>,
    ) -> Self {
        GroupRecord {
            record_type,
            group_addr,
            sources,
            aux_data: &[],
        }
    }

    /// The same record with auxiliary data (whole 32-bit words, at most 255 of them).
    pub fn with_aux_data(self, aux_data: &'a [u8]) -> Result<Self> {
        if aux_data.len() % 4 != 0 || aux_data.len() > MAX_AUX_DATA_LEN {
            return Err(Error::Malformed {
                layer: Layer::Igmp,
                what: "aux data not whole words or over 255 words",
            });
        }
        Ok(GroupRecord { aux_data, ..self })
    }

    /// Parses the record at the start of `bytes` (bytes after it are not looked at).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Error::need(Layer::Igmp, GROUP_RECORD_HEADER_LEN, bytes.len())?;
        let aux_len = usize::from(bytes[field::REC_AUX_LEN]) * 4;
        let src_end = field::REC_SOURCES + usize::from(be16(bytes, field::REC_NUM_SOURCES)) * 4;
        let end = src_end + aux_len;
        Error::need(Layer::Igmp, end, bytes.len())?;
        Ok(GroupRecord {
            record_type: RecordType(bytes[field::REC_TYPE]),
            group_addr: addr_at(bytes, field::REC_GROUP.start),
            sources: SourceList(Sources::Wire(&bytes[field::REC_SOURCES..src_end])),
            aux_data: &bytes[src_end..end],
        })
    }

    /// The record type.
    pub const fn record_type(&self) -> RecordType {
        self.record_type
    }

    /// The multicast address the record is about.
    pub const fn group_addr(&self) -> Ipv4Addr {
        self.group_addr
    }

    /// The source addresses.
    pub const fn sources(&self) -> SourceList<'a> {
        self.sources
    }

    /// The auxiliary data (ignored by IGMPv3 receivers, kept for byte-exact re-emission).
    pub const fn aux_data(&self) -> &'a [u8] {
        self.aux_data
    }

    /// Bytes the record takes on the wire.
    pub fn buffer_len(&self) -> usize {
        GROUP_RECORD_HEADER_LEN + self.sources.buffer_len() + self.aux_data.len()
    }

    /// Writes the record into `out` (exactly `buffer_len` bytes).
    fn emit(&self, out: &mut [u8]) {
        out[field::REC_TYPE] = self.record_type.0;
        out[field::REC_AUX_LEN] = (self.aux_data.len() / 4) as u8;
        put16(out, field::REC_NUM_SOURCES, self.sources.len() as u16);
        out[field::REC_GROUP].copy_from_slice(&self.group_addr.octets());
        let src_end = field::REC_SOURCES + self.sources.buffer_len();
        self.sources.emit(&mut out[field::REC_SOURCES..src_end]);
        out[src_end..].copy_from_slice(self.aux_data);
    }
}

/// The group records of a v3 report: either the raw (validated) record bytes of a received
/// report or a slice of records the stack built. Equality and hashing compare the records.
#[derive(Clone, Copy)]
pub struct GroupRecords<'a>(Records<'a>);

#[derive(Clone, Copy)]
enum Records<'a> {
    /// Exactly `count` records, already walked once.
    Wire { bytes: &'a [u8], count: u16 },
    /// Records built by the stack (at most 65535).
    Built(&'a [GroupRecord<'a>]),
}

impl GroupRecords<'static> {
    /// No records.
    pub const EMPTY: GroupRecords<'static> = GroupRecords(Records::Built(&[]));
}

impl Default for GroupRecords<'_> {
    fn default() -> Self {
        GroupRecords::EMPTY
    }
}

impl<'a> GroupRecords<'a> {
    /// Takes the first `count` records from `bytes`, checking each fits; bytes after them are
    /// not part of the list.
    pub fn from_bytes(bytes: &'a [u8], count: u16) -> Result<Self> {
        let mut off = 0;
        for _ in 0..count {
            let rec = GroupRecord::parse(&bytes[off..]).map_err(|e| shift_error(e, off))?;
            off += rec.buffer_len();
        }
        Ok(GroupRecords(Records::Wire {
            bytes: &bytes[..off],
            count,
        }))
    }

    /// Wraps records the stack built (at most 65535, the most the count field holds).
    pub fn from_records(records: &'a [GroupRecord<'a>]) -> Result<Self> {
        if records.len() > usize::from(u16::MAX) {
            return Err(Error::Malformed {
                layer: Layer::Igmp,
                what: "more than 65535 group records",
            });
        }
        Ok(GroupRecords(Records::Built(records)))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match self.0 {
            Records::Wire { count, .. } => usize::from(count),
            Records::Built(r) => r.len(),
        }
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the records.
    pub fn iter(&self) -> GroupRecordIter<'a> {
        GroupRecordIter(match self.0 {
            Records::Wire { bytes, count } => RecordIterInner::Wire { rest: bytes, count },
            Records::Built(r) => RecordIterInner::Built(r.iter()),
        })
    }

    /// Bytes the records take on the wire.
    pub fn buffer_len(&self) -> usize {
        match self.0 {
            Records::Wire { bytes, .. } => bytes.len(),
            Records::Built(r) => r.iter().map(GroupRecord::buffer_len).sum(),
        }
    }

    /// Writes the records into `out` (exactly `buffer_len` bytes).
    fn emit(&self, out: &mut [u8]) {
        match self.0 {
            Records::Wire { bytes, .. } => out.copy_from_slice(bytes),
            Records::Built(r) => {
                let mut off = 0;
                for rec in r {
                    let end = off + rec.buffer_len();
                    rec.emit(&mut out[off..end]);
                    off = end;
                }
            }
        }
    }
}

impl PartialEq for GroupRecords<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for GroupRecords<'_> {}

impl Hash for GroupRecords<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for r in self.iter() {
            r.hash(state);
        }
    }
}

impl fmt::Debug for GroupRecords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for GroupRecords<'a> {
    type Item = GroupRecord<'a>;
    type IntoIter = GroupRecordIter<'a>;

    fn into_iter(self) -> GroupRecordIter<'a> {
        self.iter()
    }
}

/// Iterator over the records of [`GroupRecords`]; never fails (the bytes were validated when
/// the list was made).
#[derive(Debug, Clone)]
pub struct GroupRecordIter<'a>(RecordIterInner<'a>);

#[derive(Debug, Clone)]
enum RecordIterInner<'a> {
    Wire { rest: &'a [u8], count: u16 },
    Built(core::slice::Iter<'a, GroupRecord<'a>>),
}

impl<'a> Iterator for GroupRecordIter<'a> {
    type Item = GroupRecord<'a>;

    fn next(&mut self) -> Option<GroupRecord<'a>> {
        match &mut self.0 {
            RecordIterInner::Wire { rest, count } => {
                if *count == 0 {
                    return None;
                }
                // Cannot fail on validated bytes; stopping keeps the iterator panic-free anyway.
                let bytes: &'a [u8] = rest;
                let rec = GroupRecord::parse(bytes).ok()?;
                *rest = &bytes[rec.buffer_len()..];
                *count -= 1;
                Some(rec)
            }
            RecordIterInner::Built(r) => r.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RecordIterInner::Wire { count, .. } => (0, Some(usize::from(*count))),
            RecordIterInner::Built(r) => r.size_hint(),
        }
    }
}

/// A zero-copy view of one IGMP message (the whole IPv4 payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer holding a whole IGMP message after checking its length for its type.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length the message type requires (see the module documentation).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        Error::need(Layer::Igmp, HEADER_LEN, b.len())?;
        match self.msg_type() {
            MessageType::MEMBERSHIP_QUERY => match b.len() {
                HEADER_LEN => Ok(()),
                // RFC 3376 §7.1: a query of 9 to 11 bytes is no version at all.
                len if len < QUERY_V3_HEADER_LEN => Err(Error::BadLength {
                    layer: Layer::Igmp,
                    value: len,
                }),
                len => Error::need(
                    Layer::Igmp,
                    QUERY_V3_HEADER_LEN + usize::from(be16(b, field::NUM_SOURCES)) * 4,
                    len,
                ),
            },
            MessageType::MEMBERSHIP_REPORT_V3 => {
                records_end(b, be16(b, field::NUM_RECORDS)).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether this is a v3 query (a query of 12 bytes or more), whose v3 fields exist.
    fn is_v3_query(&self) -> bool {
        self.msg_type() == MessageType::MEMBERSHIP_QUERY
            && self.buffer.as_ref().len() >= QUERY_V3_HEADER_LEN
    }

    /// The message type.
    pub fn msg_type(&self) -> MessageType {
        MessageType(self.buffer.as_ref()[field::TYPE])
    }

    /// The raw max resp code (v3 encoding, see [`decode_code`]), max resp time (v2, tenths of
    /// a second) or unused byte (v1, reports, leave).
    pub fn max_resp_code(&self) -> u8 {
        self.buffer.as_ref()[field::MAX_RESP_CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The group address (queries, v1/v2 reports, leave; reserved bytes in a v3 report).
    pub fn group_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::GROUP_ADDR.start)
    }

    /// For a query, its version by length and max resp code (RFC 3376 §7.1).
    pub fn query_version(&self) -> Option<Version> {
        if self.msg_type() != MessageType::MEMBERSHIP_QUERY {
            None
        } else if self.is_v3_query() {
            Some(Version::V3)
        } else if self.max_resp_code() == 0 {
            Some(Version::V1)
        } else {
            Some(Version::V2)
        }
    }

    /// Suppress router-side processing flag of a v3 query (false for other messages).
    pub fn s_flag(&self) -> bool {
        self.is_v3_query() && self.buffer.as_ref()[field::S_QRV] & S_FLAG != 0
    }

    /// Querier's robustness variable of a v3 query (0 for other messages).
    pub fn qrv(&self) -> u8 {
        if self.is_v3_query() {
            self.buffer.as_ref()[field::S_QRV] & QRV_MASK
        } else {
            0
        }
    }

    /// Raw querier's query interval code of a v3 query (0 for other messages); decode with
    /// [`decode_code`] (seconds).
    pub fn qqic(&self) -> u8 {
        if self.is_v3_query() {
            self.buffer.as_ref()[field::QQIC]
        } else {
            0
        }
    }

    /// Number-of-sources field of a v3 query (0 for other messages).
    pub fn num_sources(&self) -> u16 {
        if self.is_v3_query() {
            be16(self.buffer.as_ref(), field::NUM_SOURCES)
        } else {
            0
        }
    }

    /// The source list of a v3 query (empty for other messages, and clamped to the buffer on
    /// an unchecked view).
    pub fn sources(&self) -> SourceList<'_> {
        let n = usize::from(self.num_sources());
        let b = self.buffer.as_ref();
        let end = (field::QUERY_SOURCES + n * 4).min(b.len() / 4 * 4);
        SourceList(Sources::Wire(
            b.get(field::QUERY_SOURCES..end).unwrap_or(&[]),
        ))
    }

    /// Number-of-group-records field of a v3 report.
    pub fn num_group_records(&self) -> u16 {
        be16(self.buffer.as_ref(), field::NUM_RECORDS)
    }

    /// The group records of a v3 report (empty for other messages or an invalid unchecked
    /// view).
    pub fn group_records(&self) -> GroupRecords<'_> {
        let b = self.buffer.as_ref();
        let count = self.num_group_records();
        if self.msg_type() != MessageType::MEMBERSHIP_REPORT_V3 {
            return GroupRecords::EMPTY;
        }
        match records_end(b, count) {
            Ok(end) => GroupRecords(Records::Wire {
                bytes: &b[field::RECORDS..end],
                count,
            }),
            Err(_) => GroupRecords::EMPTY,
        }
    }

    /// Length of the message its fields describe (8, `12 + 4 * N`, or 8 plus the records),
    /// clamped to the buffer.
    pub fn message_len(&self) -> usize {
        let b = self.buffer.as_ref();
        let len = match self.msg_type() {
            MessageType::MEMBERSHIP_QUERY if self.is_v3_query() => {
                QUERY_V3_HEADER_LEN + usize::from(self.num_sources()) * 4
            }
            MessageType::MEMBERSHIP_REPORT_V3 => {
                records_end(b, self.num_group_records()).unwrap_or(b.len())
            }
            _ => HEADER_LEN,
        };
        len.min(b.len())
    }

    /// Bytes after the described message: covered by the checksum, otherwise ignored
    /// (RFC 3376 §4.1.10, §4.2.11; RFC 2236 §2.5).
    pub fn additional_data(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.message_len()..]
    }

    /// Whether the checksum over the whole buffer verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, t: MessageType) {
        self.buffer.as_mut()[field::TYPE] = t.0
    }

    /// Sets the max resp code byte (raw).
    pub fn set_max_resp_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::MAX_RESP_CODE] = v
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v)
    }

    /// Sets the group address.
    pub fn set_group_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::GROUP_ADDR].copy_from_slice(&a.octets())
    }

    /// Sets the S flag of a v3 query (no-op on a buffer shorter than 12 bytes).
    pub fn set_s_flag(&mut self, s: bool) {
        if let Some(x) = self.buffer.as_mut().get_mut(field::S_QRV) {
            *x = (*x & !S_FLAG) | if s { S_FLAG } else { 0 };
        }
    }

    /// Sets the QRV of a v3 query (low 3 bits; no-op on a buffer shorter than 12 bytes).
    pub fn set_qrv(&mut self, qrv: u8) {
        if let Some(x) = self.buffer.as_mut().get_mut(field::S_QRV) {
            *x = (*x & !QRV_MASK) | (qrv & QRV_MASK);
        }
    }

    /// Sets the raw QQIC of a v3 query (no-op on a buffer shorter than 12 bytes).
    pub fn set_qqic(&mut self, qqic: u8) {
        if let Some(x) = self.buffer.as_mut().get_mut(field::QQIC) {
            *x = qqic;
        }
    }

    /// Sets the number of sources of a v3 query (no-op on a buffer shorter than 12 bytes).
    pub fn set_num_sources(&mut self, n: u16) {
        let b = self.buffer.as_mut();
        if b.len() >= QUERY_V3_HEADER_LEN {
            put16(b, field::NUM_SOURCES, n)
        }
    }

    /// Sets the number of group records of a v3 report.
    pub fn set_num_group_records(&mut self, n: u16) {
        put16(self.buffer.as_mut(), field::NUM_RECORDS, n)
    }

    /// Recomputes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c)
    }
}

/// The value of an IGMP message. Lists borrow from the parsed buffer or from the stack's
/// values, so a `Repr` never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr<'a> {
    /// A membership query (0x11) of any version.
    MembershipQuery {
        /// The version, from length and max resp code (RFC 3376 §7.1). V1 emits code 0 and
        /// V2/V3 emit `max_resp_code` as it is (a V2 query with code 0 would read back as V1).
        version: Version,
        /// The raw max resp code byte: tenths of a second as is (v2) or in the v3 floating
        /// point encoding; kept raw because that encoding is lossy. See
        /// [`Repr::max_resp_time`].
        max_resp_code: u8,
        /// The group queried; 0.0.0.0 for a general query.
        group_addr: Ipv4Addr,
        /// Suppress router-side processing (v3 only).
        s_flag: bool,
        /// Querier's robustness variable, 0..=7 (v3 only).
        qrv: u8,
        /// Raw querier's query interval code (v3 only); see [`Repr::qqi`].
        qqic: u8,
        /// Sources of a group-and-source-specific query (v3 only).
        sources: SourceList<'a>,
    },
    /// A version 1 membership report (0x12).
    MembershipReportV1 {
        /// The group reported.
        group_addr: Ipv4Addr,
    },
    /// A version 2 membership report (0x16).
    MembershipReportV2 {
        /// The group reported.
        group_addr: Ipv4Addr,
    },
    /// A version 2 leave group (0x17).
    LeaveGroup {
        /// The group left.
        group_addr: Ipv4Addr,
    },
    /// A version 3 membership report (0x22).
    MembershipReportV3 {
        /// The group records.
        records: GroupRecords<'a>,
    },
}

impl<'a> Repr<'a> {
    /// Reads a message, validating its length and (optionally) the checksum. Unknown message
    /// types fail with [`Error::Unsupported`] (receivers ignore them, RFC 3376 §4).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &Packet<&'a T>,
        check: ChecksumCheck,
    ) -> Result<Repr<'a>> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum() {
            return Err(Error::BadChecksum { layer: Layer::Igmp });
        }
        let b: &'a [u8] = T::as_ref(p.buffer);
        let group_addr = p.group_addr();
        Ok(match p.msg_type() {
            MessageType::MEMBERSHIP_QUERY => {
                let version = p.query_version().unwrap_or(Version::V1);
                let sources = if version == Version::V3 {
                    let end = field::QUERY_SOURCES + usize::from(p.num_sources()) * 4;
                    SourceList(Sources::Wire(&b[field::QUERY_SOURCES..end]))
                } else {
                    SourceList::EMPTY
                };
                Repr::MembershipQuery {
                    version,
                    max_resp_code: p.max_resp_code(),
                    group_addr,
                    s_flag: p.s_flag(),
                    qrv: p.qrv(),
                    qqic: p.qqic(),
                    sources,
                }
            }
            MessageType::MEMBERSHIP_REPORT_V1 => Repr::MembershipReportV1 { group_addr },
            MessageType::MEMBERSHIP_REPORT_V2 => Repr::MembershipReportV2 { group_addr },
            MessageType::LEAVE_GROUP => Repr::LeaveGroup { group_addr },
            MessageType::MEMBERSHIP_REPORT_V3 => Repr::MembershipReportV3 {
                records: GroupRecords::from_bytes(&b[field::RECORDS..], p.num_group_records())
                    .map_err(|e| shift_error(e, field::RECORDS))?,
            },
            _ => {
                return Err(Error::Unsupported {
                    layer: Layer::Igmp,
                    what: "message type",
                })
            }
        })
    }

    /// The message type this value emits.
    pub const fn msg_type(&self) -> MessageType {
        match self {
            Repr::MembershipQuery { .. } => MessageType::MEMBERSHIP_QUERY,
            Repr::MembershipReportV1 { .. } => MessageType::MEMBERSHIP_REPORT_V1,
            Repr::MembershipReportV2 { .. } => MessageType::MEMBERSHIP_REPORT_V2,
            Repr::LeaveGroup { .. } => MessageType::LEAVE_GROUP,
            Repr::MembershipReportV3 { .. } => MessageType::MEMBERSHIP_REPORT_V3,
        }
    }

    /// A query's max resp time in tenths of a second: 100 for v1 (RFC 2236 §4), the field for
    /// v2, the decoded code for v3. `None` for other messages.
    pub const fn max_resp_time(&self) -> Option<u32> {
        match *self {
            Repr::MembershipQuery {
                version,
                max_resp_code,
                ..
            } => Some(match version {
                Version::V1 => V1_QUERY_MAX_RESP_TIME,
                Version::V2 => max_resp_code as u32,
                Version::V3 => decode_code(max_resp_code),
            }),
            _ => None,
        }
    }

    /// A v3 query's querier's query interval in seconds (decoded QQIC); `None` otherwise.
    pub const fn qqi(&self) -> Option<u32> {
        match *self {
            Repr::MembershipQuery {
                version: Version::V3,
                qqic,
                ..
            } => Some(decode_code(qqic)),
            _ => None,
        }
    }

    /// The whole message is header: same as [`Repr::buffer_len`].
    pub fn header_len(&self) -> usize {
        self.buffer_len()
    }

    /// Length of the message this value emits.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::MembershipQuery {
                version: Version::V3,
                sources,
                ..
            } => QUERY_V3_HEADER_LEN + sources.buffer_len(),
            Repr::MembershipReportV3 { records } => HEADER_LEN + records.buffer_len(),
            _ => HEADER_LEN,
        }
    }

    /// Writes the message into the start of `p` (at least `buffer_len` bytes) and computes the
    /// checksum over those `buffer_len` bytes, so `p` should view exactly them for
    /// [`Packet::verify_checksum`] to agree. Reserved fields are written as zero.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let len = self.buffer_len();
        p.set_msg_type(self.msg_type());
        match *self {
            Repr::MembershipQuery {
                version,
                max_resp_code,
                group_addr,
                s_flag,
                qrv,
                qqic,
                sources,
            } => {
                p.set_max_resp_code(if version == Version::V1 {
                    0
                } else {
                    max_resp_code
                });
                p.set_group_addr(group_addr);
                if version == Version::V3 {
                    let b = p.buffer.as_mut();
                    b[field::S_QRV] = if s_flag { S_FLAG } else { 0 } | (qrv & QRV_MASK);
                    b[field::QQIC] = qqic;
                    put16(b, field::NUM_SOURCES, sources.len() as u16);
                    sources.emit(&mut b[field::QUERY_SOURCES..len]);
                }
            }
            Repr::MembershipReportV1 { group_addr }
            | Repr::MembershipReportV2 { group_addr }
            | Repr::LeaveGroup { group_addr } => {
                p.set_max_resp_code(0);
                p.set_group_addr(group_addr);
            }
            Repr::MembershipReportV3 { records } => {
                p.set_max_resp_code(0);
                let b = p.buffer.as_mut();
                b[field::REPORT_RESERVED].fill(0);
                put16(b, field::NUM_RECORDS, records.len() as u16);
                records.emit(&mut b[field::RECORDS..len]);
            }
        }
        p.set_checksum(0);
        let c = checksum::checksum(&p.buffer.as_ref()[..len]);
        p.set_checksum(c);
    }
}

/// Emits a v3 membership report of `records` (built with [`GroupRecord::new`]) at the start of
/// `buf`, checksum included; returns its length. This is the stack's report builder: it is
/// [`Repr::MembershipReportV3`] plus the size checks. Fails with [`Error::Truncated`] when `buf`
/// is too short (split the records over several reports to fit the MTU) or
/// [`Error::Malformed`] for more than 65535 records.
pub fn emit_v3_report(buf: &mut [u8], records: &[GroupRecord<'_>]) -> Result<usize> {
    let repr = Repr::MembershipReportV3 {
        records: GroupRecords::from_records(records)?,
    };
    let len = repr.buffer_len();
    Error::need(Layer::Igmp, len, buf.len())?;
    repr.emit(&mut Packet::new_unchecked(&mut buf[..len]));
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
    const S1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const S2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// Emits `repr` on a 0xa5 buffer of exactly its length, parses it back and re-emits it on a
    /// 0x5a buffer: equal outputs mean every byte was written.
    #[track_caller]
    fn round_trip(repr: Repr<'_>) -> Vec<u8> {
        let mut buf = std::vec![0xa5u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.msg_type(), repr.msg_type());
        assert!(p.additional_data().is_empty());
        let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        assert_eq!(parsed, repr);
        let mut again = std::vec![0x5au8; parsed.buffer_len()];
        parsed.emit(&mut Packet::new_unchecked(&mut again[..]));
        assert_eq!(again, buf);
        buf
    }

    fn query(version: Version, code: u8) -> Repr<'static> {
        Repr::MembershipQuery {
            version,
            max_resp_code: code,
            group_addr: Ipv4Addr::UNSPECIFIED,
            s_flag: false,
            qrv: 0,
            qqic: 0,
            sources: SourceList::EMPTY,
        }
    }

    #[test]
    fn v1_v2_messages_round_trip() {
        let b = round_trip(query(Version::V1, 0));
        assert_eq!(b[..2], [0x11, 0x00]);
        assert_eq!(b[4..], [0, 0, 0, 0]);
        let q = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(q.query_version(), Some(Version::V1));
        // RFC 2236 §4: a v1 query's zero means 10 seconds.
        assert_eq!(query(Version::V1, 0).max_resp_time(), Some(100));

        let b = round_trip(Repr::MembershipQuery {
            version: Version::V2,
            max_resp_code: 100,
            group_addr: G,
            s_flag: false,
            qrv: 0,
            qqic: 0,
            sources: SourceList::EMPTY,
        });
        assert_eq!(b[..2], [0x11, 100]);
        assert_eq!(b[4..], G.octets());
        assert_eq!(query(Version::V2, 200).max_resp_time(), Some(200));
        assert_eq!(query(Version::V2, 200).qqi(), None);

        for (repr, ty) in [
            (Repr::MembershipReportV1 { group_addr: G }, 0x12),
            (Repr::MembershipReportV2 { group_addr: G }, 0x16),
            (Repr::LeaveGroup { group_addr: G }, 0x17),
        ] {
            let b = round_trip(repr);
            assert_eq!(b[..2], [ty, 0]);
            assert_eq!(b[4..], G.octets());
            assert_eq!(repr.max_resp_time(), None);
        }
    }

    #[test]
    fn v3_query_round_trip() {
        let srcs = [S1, S2];
        let repr = Repr::MembershipQuery {
            version: Version::V3,
            max_resp_code: encode_code(250),
            group_addr: G,
            s_flag: true,
            qrv: 7,
            qqic: encode_code(125),
            sources: SourceList::from_addrs(&srcs).unwrap(),
        };
        let b = round_trip(repr);
        assert_eq!(b.len(), 20);
        assert_eq!(b[8..12], [0x0f, 125, 0, 2]);
        assert_eq!(repr.max_resp_time(), Some(248));
        assert_eq!(repr.qqi(), Some(125));
        // A general v3 query: 12 bytes, no sources.
        let b = round_trip(query(Version::V3, 0));
        assert_eq!(b, [0x11, 0, 0xee, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn v3_report_round_trip_with_built_records() {
        let srcs = [S1, S2];
        let aux = [1, 2, 3, 4];
        let records = [
            GroupRecord::new(
                RecordType::ALLOW_NEW_SOURCES,
                G,
                SourceList::from_addrs(&srcs).unwrap(),
            ),
            GroupRecord::new(RecordType(9), ALL_SYSTEMS, SourceList::EMPTY)
                .with_aux_data(&aux)
                .unwrap(),
            GroupRecord::new(
                RecordType::CHANGE_TO_EXCLUDE_MODE,
                Ipv4Addr::new(224, 0, 0, 251),
                SourceList::EMPTY,
            ),
        ];
        let repr = Repr::MembershipReportV3 {
            records: GroupRecords::from_records(&records).unwrap(),
        };
        let b = round_trip(repr);
        assert_eq!(b.len(), 8 + 16 + 12 + 8);
        assert_eq!(b[..2], [0x22, 0]);
        assert_eq!(b[4..8], [0, 0, 0, 3]);

        // The builder produces the same bytes, and refuses a short buffer.
        let mut out = [0xa5u8; 64];
        assert_eq!(emit_v3_report(&mut out, &records).unwrap(), b.len());
        assert_eq!(out[..b.len()], b[..]);
        assert_eq!(
            emit_v3_report(&mut out[..40], &records).unwrap_err(),
            Error::Truncated {
                layer: Layer::Igmp,
                need: 44,
                have: 40
            }
        );

        let p = Packet::new_checked(&b[..]).unwrap();
        let got: Vec<_> = p.group_records().iter().collect();
        assert_eq!(got, records);
        assert_eq!(got[1].record_type(), RecordType(9));
        assert!(!got[1].record_type().is_known());
        assert_eq!(got[1].aux_data(), &aux);
        assert_eq!(got[0].sources().get(1), Some(S2));
        assert_eq!(got[0].sources().get(2), None);
    }

    #[test]
    fn rfc3376_query_layout_by_hand() {
        // RFC 3376 §4.1: type, max resp code, checksum | group | resv S QRV, QQIC, N | sources.
        // Checksum 0x66ef computed independently (outside this crate).
        let bytes = [
            0x11, 0x64, 0x66, 0xef, 239, 1, 2, 3, 0x0a, 0x7d, 0x00, 0x02, 198, 18, 0, 1, 198, 18,
            0, 2,
        ];
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.query_version(), Some(Version::V3));
        assert_eq!(p.max_resp_code(), 100);
        assert_eq!(p.group_addr(), G);
        assert!(p.s_flag());
        assert_eq!((p.qrv(), p.qqic(), p.num_sources()), (2, 125, 2));
        assert_eq!(p.sources().iter().collect::<Vec<_>>(), [S1, S2]);
        assert_eq!(p.message_len(), 20);
        let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        let srcs = [S1, S2];
        assert_eq!(
            repr,
            Repr::MembershipQuery {
                version: Version::V3,
                max_resp_code: 100,
                group_addr: G,
                s_flag: true,
                qrv: 2,
                qqic: 125,
                sources: SourceList::from_addrs(&srcs).unwrap(),
            }
        );
        assert_eq!(repr.max_resp_time(), Some(100));
        let mut out = [0xa5u8; 20];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
        // The setters rewrite the same fields in place.
        let mut m = bytes;
        let mut p = Packet::new_checked(&mut m[..]).unwrap();
        p.set_s_flag(false);
        p.set_qrv(3);
        p.set_qqic(0x80);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert!(!p.s_flag());
        assert_eq!((p.qrv(), p.qqic()), (3, 0x80));
    }

    #[test]
    fn rfc3376_report_layout_by_hand() {
        // RFC 3376 §4.2: type, reserved, checksum | reserved, M | records; each record is
        // type, aux words, N | group | sources | aux. Checksum 0xd636 computed independently.
        let bytes = [
            0x22, 0, 0xd6, 0x36, 0, 0, 0, 2, // header
            1, 0, 0, 2, 232, 1, 1, 1, 198, 18, 0, 1, 198, 18, 0, 2, // MODE_IS_INCLUDE
            4, 1, 0, 0, 239, 255, 255, 250, 0xde, 0xad, 0xbe, 0xef, // CHANGE_TO_EXCLUDE + aux
        ];
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.num_group_records(), 2);
        let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        let Repr::MembershipReportV3 { records } = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(records.len(), 2);
        let r: Vec<_> = records.iter().collect();
        assert_eq!(r[0].record_type(), RecordType::MODE_IS_INCLUDE);
        assert_eq!(r[0].group_addr(), Ipv4Addr::new(232, 1, 1, 1));
        assert_eq!(r[0].sources().iter().collect::<Vec<_>>(), [S1, S2]);
        assert!(r[0].aux_data().is_empty());
        assert_eq!(r[1].record_type(), RecordType::CHANGE_TO_EXCLUDE_MODE);
        assert_eq!(r[1].group_addr(), Ipv4Addr::new(239, 255, 255, 250));
        assert!(r[1].sources().is_empty());
        assert_eq!(r[1].aux_data(), &[0xde, 0xad, 0xbe, 0xef]);
        let mut out = [0xa5u8; 36];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
    }

    #[test]
    fn linux_join_report_is_byte_exact() {
        // What Linux sends when joining 224.0.0.251 (mDNS): one CHANGE_TO_EXCLUDE record with
        // no sources. Checksum 0xf902 computed by hand (RFC 1071 sum of the words).
        let bytes = [
            0x22, 0x00, 0xf9, 0x02, 0, 0, 0, 1, 4, 0, 0, 0, 224, 0, 0, 251,
        ];
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        let mut out = [0xa5u8; 16];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
        let rec = [GroupRecord::new(
            RecordType::CHANGE_TO_EXCLUDE_MODE,
            Ipv4Addr::new(224, 0, 0, 251),
            SourceList::EMPTY,
        )];
        let mut built = [0xa5u8; 16];
        assert_eq!(emit_v3_report(&mut built, &rec), Ok(16));
        assert_eq!(built, bytes);
        // Wire and built forms of the same records compare equal.
        assert_eq!(
            repr,
            Repr::MembershipReportV3 {
                records: GroupRecords::from_records(&rec).unwrap()
            }
        );
    }

    #[test]
    fn checksum_errors() {
        let mut b = round_trip(Repr::LeaveGroup { group_addr: G });
        b[5] ^= 0x01;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(
            Repr::parse(&p, ChecksumCheck::Verify).unwrap_err(),
            Error::BadChecksum { layer: Layer::Igmp }
        );
        assert_eq!(
            Repr::parse(&p, ChecksumCheck::Trust).unwrap(),
            Repr::LeaveGroup {
                group_addr: Ipv4Addr::new(239, 0, 2, 3)
            }
        );
        // The checksum covers additional data too (RFC 2236 §2.5): appending bytes breaks it,
        // and refilling over the whole buffer mends it.
        let mut longer = round_trip(Repr::MembershipReportV2 { group_addr: G });
        longer.extend_from_slice(&[1, 2, 3, 4]);
        let mut p = Packet::new_checked(&mut longer[..]).unwrap();
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.additional_data(), &[1, 2, 3, 4]);
        assert_eq!(
            Repr::parse(
                &Packet::new_checked(&longer[..]).unwrap(),
                ChecksumCheck::Verify
            ),
            Ok(Repr::MembershipReportV2 { group_addr: G })
        );
    }

    #[test]
    fn v3_query_with_additional_data() {
        let srcs = [S1];
        let repr = Repr::MembershipQuery {
            version: Version::V3,
            max_resp_code: 10,
            group_addr: G,
            s_flag: false,
            qrv: 2,
            qqic: 60,
            sources: SourceList::from_addrs(&srcs).unwrap(),
        };
        let mut b = round_trip(repr);
        b.extend_from_slice(&[9, 9]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.message_len(), 16);
        assert_eq!(p.additional_data(), &[9, 9]);
        // Parsed without the extra bytes; emitted without them (RFC 3376 §4.1.10).
        let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(parsed.buffer_len(), 16);
    }

    #[test]
    fn truncated_and_inconsistent_lengths() {
        let trunc = |need, have| Error::Truncated {
            layer: Layer::Igmp,
            need,
            have,
        };
        let v2 = round_trip(Repr::MembershipReportV2 { group_addr: G });
        assert_eq!(Packet::new_checked(&v2[..7]).unwrap_err(), trunc(8, 7));
        assert_eq!(Packet::new_checked(&[][..]).unwrap_err(), trunc(8, 0));

        // A query of 9..=11 bytes has no version (RFC 3376 §7.1).
        let mut q = [0u8; 16];
        q[0] = 0x11;
        for len in 9..12 {
            assert_eq!(
                Packet::new_checked(&q[..len]).unwrap_err(),
                Error::BadLength {
                    layer: Layer::Igmp,
                    value: len
                }
            );
        }
        // A source count that overruns the buffer.
        q[10..12].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&q[..16]).unwrap_err(), trunc(20, 16));
        q[10..12].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&q[..]).unwrap_err(),
            trunc(12 + 4 * 65535, 16)
        );
        // Accessors of the unchecked view still do not panic.
        let u = Packet::new_unchecked(&q[..]);
        assert_eq!(u.sources().len(), 1);
        assert_eq!(u.message_len(), 16);

        // Reports: more records than bytes, a source count and an aux length that overrun.
        let report = [0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 224, 0, 0, 251];
        let mut r = report;
        r[7] = 2;
        assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(24, 16));
        let mut r = report;
        r[11] = 1;
        assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(20, 16));
        let mut r = report;
        r[9] = 3;
        assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(28, 16));
        assert_eq!(
            Packet::new_checked(&report[..12]).unwrap_err(),
            trunc(16, 12)
        );
        // Unchecked views of those never panic either.
        let u = Packet::new_unchecked(&r[..]);
        assert!(u.group_records().is_empty());
        assert_eq!(u.message_len(), 16);
        assert!(u.additional_data().is_empty());
        assert_eq!(
            GroupRecords::from_bytes(&r[8..], 1).unwrap_err(),
            trunc(20, 8)
        );
    }

    #[test]
    fn unknown_types_and_short_views_do_not_panic() {
        let mut b = [0x13u8, 0, 0, 0, 1, 2, 3, 4];
        let c = checksum::checksum(&b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Repr::parse(&p, ChecksumCheck::Verify).unwrap_err(),
            Error::Unsupported {
                layer: Layer::Igmp,
                what: "message type"
            }
        );
        assert_eq!(std::format!("{:?}", p.msg_type()), "0x13");
        assert_eq!(p.query_version(), None);

        // An 8-byte v2 query carries no v3 fields: they read as zero and setters do nothing.
        let mut v2 = round_trip(query(Version::V2, 50));
        let mut p = Packet::new_checked(&mut v2[..]).unwrap();
        p.set_qrv(3);
        p.set_s_flag(true);
        p.set_qqic(9);
        p.set_num_sources(4);
        assert!(!p.s_flag());
        assert_eq!((p.qrv(), p.qqic(), p.num_sources()), (0, 0, 0));
        assert!(p.sources().is_empty() && p.group_records().is_empty());
        assert_eq!(p.query_version(), Some(Version::V2));
    }

    #[test]
    fn builder_limits() {
        assert!(SourceList::from_bytes(&[0; 6]).is_err());
        assert_eq!(SourceList::from_bytes(&[0; 8]).unwrap().len(), 2);
        let rec = GroupRecord::new(RecordType::MODE_IS_EXCLUDE, G, SourceList::EMPTY);
        assert!(rec.with_aux_data(&[0; 3]).is_err());
        assert!(rec.with_aux_data(&[0; 1024]).is_err());
        assert_eq!(rec.with_aux_data(&[0; 1020]).unwrap().buffer_len(), 1028);
        let many = std::vec![Ipv4Addr::UNSPECIFIED; 65536];
        assert!(SourceList::from_addrs(&many).is_err());
        assert!(SourceList::from_addrs(&many[..65535]).is_ok());
        let recs = std::vec![rec; 65536];
        assert!(GroupRecords::from_records(&recs).is_err());
        assert!(emit_v3_report(&mut [0u8; 8], &recs).is_err());
    }

    #[test]
    fn code_encoding_table() {
        // (value, code, decoded code): exact below 128, rounded down above.
        let table: [(u32, u8, u32); 14] = [
            (0, 0x00, 0),
            (1, 0x01, 1),
            (127, 0x7f, 127),
            (128, 0x80, 128),
            (135, 0x80, 128),
            (136, 0x81, 136),
            (255, 0x8f, 248),
            (256, 0x90, 256),
            (1000, 0xaf, 992),
            (31743, 0xfe, 30720),
            (31744, 0xff, 31744),
            (31745, 0xff, 31744),
            (100_000, 0xff, 31744),
            (u32::MAX, 0xff, 31744),
        ];
        for (value, code, decoded) in table {
            assert_eq!(encode_code(value), code, "encode {value}");
            assert_eq!(decode_code(code), decoded, "decode {code:#x}");
        }
        // The maximum follows from the formula: mant 0xf, exp 7.
        assert_eq!(MAX_CODE_VALUE, (0x0f | 0x10) << (7 + 3));
        assert_eq!(decode_code(0xff), MAX_CODE_VALUE);
        // Every code re-encodes to itself, and decoding is strictly increasing.
        for c in 0..=255u8 {
            assert_eq!(encode_code(decode_code(c)), c);
            if c > 0 {
                assert!(decode_code(c) > decode_code(c - 1));
            }
        }
        // encode_code is the largest code whose value does not exceed the input.
        for v in 0..=32_000u32 {
            let best = (0..=255u8).rev().find(|&c| decode_code(c) <= v).unwrap();
            assert_eq!(encode_code(v), best, "value {v}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn record_bytes() -> impl Strategy<Value = Vec<u8>> {
            (any::<u8>(), any::<[u8; 4]>(), 0usize..4, 0usize..3).prop_map(|(ty, group, n, aux)| {
                let mut v = std::vec![ty, aux as u8];
                v.extend_from_slice(&(n as u16).to_be_bytes());
                v.extend_from_slice(&group);
                v.extend((0..(n + aux) * 4).map(|i| i as u8));
                v
            })
        }

        proptest! {
            #[test]
            fn any_bytes_never_panic(
                ty in prop::sample::select(std::vec![0x11u8, 0x12, 0x16, 0x17, 0x22, 0x30]),
                rest in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                let mut b = std::vec![ty];
                b.extend_from_slice(&rest);
                if let Ok(p) = Packet::new_checked(&b[..]) {
                    let _ = (p.max_resp_code(), p.checksum(), p.group_addr(), p.query_version());
                    let _ = (p.s_flag(), p.qrv(), p.qqic(), p.additional_data());
                    prop_assert_eq!(p.sources().len(), usize::from(p.num_sources()));
                    let recs = p.group_records();
                    prop_assert_eq!(recs.iter().count(), recs.len());
                    if let Ok(repr) = Repr::parse(&p, ChecksumCheck::Trust) {
                        let mut out = std::vec![0xa5u8; repr.buffer_len()];
                        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                        let q = Packet::new_checked(&out[..]).unwrap();
                        prop_assert_eq!(Repr::parse(&q, ChecksumCheck::Verify).unwrap(), repr);
                    }
                }
            }

            #[test]
            fn reports_reemit_byte_exact(recs in proptest::collection::vec(record_bytes(), 0..5)) {
                let mut b = std::vec![0x22u8, 0, 0, 0, 0, 0];
                b.extend_from_slice(&(recs.len() as u16).to_be_bytes());
                for r in &recs {
                    b.extend_from_slice(r);
                }
                let c = checksum::checksum(&b);
                b[2..4].copy_from_slice(&c.to_be_bytes());
                let p = Packet::new_checked(&b[..]).unwrap();
                let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
                let mut out = std::vec![0xa5u8; repr.buffer_len()];
                repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                prop_assert_eq!(out, b);
            }
        }
    }
}
