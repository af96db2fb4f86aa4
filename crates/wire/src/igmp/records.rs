//! Source lists and group records (RFC 3376 §4.1.8, §4.2.4), borrowed from the wire or built.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::net::Ipv4Addr;

use super::*;
use crate::{be16, put16, Error, Layer, Result};

/// A list of IPv4 source addresses: either the raw bytes of a received message or a slice the
/// stack built. Equality and hashing compare the addresses, whichever form holds them.
#[derive(Clone, Copy)]
pub struct SourceList<'a>(pub(super) Sources<'a>);

#[derive(Clone, Copy)]
pub(super) enum Sources<'a> {
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
    pub(super) fn emit(&self, out: &mut [u8]) {
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
pub struct SourceIter<'a>(pub(super) SourceIterInner<'a>);

#[derive(Debug, Clone)]
pub(super) enum SourceIterInner<'a> {
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
    pub(super) fn emit(&self, out: &mut [u8]) {
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
pub struct GroupRecords<'a>(pub(super) Records<'a>);

#[derive(Clone, Copy)]
pub(super) enum Records<'a> {
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
    pub(super) fn emit(&self, out: &mut [u8]) {
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
pub struct GroupRecordIter<'a>(pub(super) RecordIterInner<'a>);

#[derive(Debug, Clone)]
pub(super) enum RecordIterInner<'a> {
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
