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
use core::hash::Hash;
use core::net::Ipv4Addr;

use crate::{be16, checksum, put16, Error, Layer, Result};

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

mod records;
mod repr;

pub use records::{GroupRecord, GroupRecordIter, GroupRecords, SourceIter, SourceList};
use records::{Records, Sources};
pub use repr::{emit_v3_report, Repr};

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

#[cfg(test)]
mod tests;
