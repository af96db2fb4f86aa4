//! The value of an ICMPv4 message.

use core::net::Ipv4Addr;

use super::*;
use crate::{be32, put32, ChecksumCheck, Error, Layer, Result};

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
