//! The value of an IGMP message, and emitting a v3 report.

use core::hash::Hash;
use core::net::Ipv4Addr;

use super::*;
use crate::{checksum, put16, ChecksumCheck, Error, Layer, Result};

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
