//! ICMPv4 echo, destination unreachable (every RFC 792/1812 code, frag-needed with its RFC 1191
//! next-hop MTU), time exceeded, redirect, parameter problem and timestamp against etherparse
//! (`Icmpv4Header`/`Icmpv4Type`, `Icmpv4Slice`) and smoltcp (`Icmpv4Packet`/`Icmpv4Repr`, which
//! knows echo, unreachable and time exceeded).

use std::net::Ipv4Addr;

use burst_wire::icmpv4::{DstUnreachable, Packet, ParamProblem, Redirect, Repr, TimeExceeded};
use burst_wire::ipv4::Protocol;
use burst_wire::ChecksumCheck;
use etherparse::icmpv4::{
    DestUnreachableHeader, ParameterProblemHeader, RedirectCode, RedirectHeader, TimeExceededCode,
    TimestampMessage,
};
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type};
use proptest::prelude::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    Icmpv4DstUnreachable, Icmpv4Message, Icmpv4Packet, Icmpv4Repr, Icmpv4TimeExceeded, IpProtocol,
    Ipv4Repr,
};

use crate::common::{a5, addr, payload};
use crate::ipv4::{header as ipv4_header, GenIpv4};

/// The start of an original datagram, as an error quotes it (RFC 792): an IPv4 header built by
/// etherparse, whose total length says `orig_len` payload bytes, then the first 8 of them.
#[derive(Debug, Clone)]
struct Quote {
    ip: GenIpv4,
    orig_len: usize,
    head: [u8; 8],
}

impl Quote {
    fn bytes(&self) -> Vec<u8> {
        let mut b = self.ip.etherparse(self.orig_len).to_bytes().to_vec();
        b.extend_from_slice(&self.head);
        b
    }

    /// Checks what our error message parsed of the quoted datagram.
    fn check(&self, r: &Repr<'_>) -> Result<(), TestCaseError> {
        let inv = r.invoking_datagram().unwrap().unwrap();
        self.ip.check(&inv.header, self.orig_len)?;
        prop_assert_eq!(inv.payload, &self.head[..]);
        Ok(())
    }
}

fn quote() -> impl Strategy<Value = Quote> {
    // A quote of exactly the whole datagram (8 payload bytes) is the only shape smoltcp's
    // parser takes: it checks the quoted total length against the quoted bytes.
    (
        ipv4_header(),
        prop_oneof![Just(8usize), 8usize..=1480],
        any::<[u8; 8]>(),
    )
        .prop_map(|(mut ip, orig_len, head)| {
            ip.fit_fragment(orig_len);
            Quote { ip, orig_len, head }
        })
}

#[derive(Debug, Clone)]
enum GenIcmp {
    Echo {
        request: bool,
        ident: u16,
        seq_no: u16,
        data: Vec<u8>,
    },
    /// Codes 0 to 15, the ones RFC 792 and RFC 1812 §5.2.7.1 name (and etherparse models).
    DstUnreachable {
        code: u8,
        mtu: u16,
        quote: Quote,
    },
    TimeExceeded {
        code: u8,
        quote: Quote,
    },
    Redirect {
        code: u8,
        gateway: Ipv4Addr,
        quote: Quote,
    },
    /// Codes 0 to 2; the pointer is meaningful (and sent) with code 0 only.
    ParamProblem {
        code: u8,
        pointer: u8,
        quote: Quote,
    },
    /// Timestamp (request) or timestamp reply: exactly 20 bytes.
    Timestamp {
        reply: bool,
        ident: u16,
        seq_no: u16,
        stamps: [u32; 3],
    },
}

fn message() -> impl Strategy<Value = GenIcmp> {
    prop_oneof![
        (any::<bool>(), any::<u16>(), any::<u16>(), payload()).prop_map(
            |(request, ident, seq_no, data)| GenIcmp::Echo {
                request,
                ident,
                seq_no,
                data
            }
        ),
        (
            prop_oneof![Just(4u8), 0u8..16],
            prop_oneof![Just(576u16), Just(1280u16), Just(1500u16), any::<u16>()],
            quote()
        )
            .prop_map(|(code, mtu, quote)| GenIcmp::DstUnreachable { code, mtu, quote }),
        (0u8..2, quote()).prop_map(|(code, quote)| GenIcmp::TimeExceeded { code, quote }),
        (0u8..4, addr(), quote()).prop_map(|(code, gateway, quote)| GenIcmp::Redirect {
            code,
            gateway,
            quote
        }),
        (0u8..3, any::<u8>(), quote()).prop_map(|(code, pointer, quote)| {
            let pointer = if code == 0 { pointer } else { 0 };
            GenIcmp::ParamProblem {
                code,
                pointer,
                quote,
            }
        }),
        (any::<bool>(), any::<u16>(), any::<u16>(), any::<[u32; 3]>()).prop_map(
            |(reply, ident, seq_no, stamps)| GenIcmp::Timestamp {
                reply,
                ident,
                seq_no,
                stamps
            }
        ),
    ]
}

impl GenIcmp {
    /// The message type etherparse builds, and the bytes after its 8-byte header.
    fn etherparse(&self) -> (Icmpv4Type, Vec<u8>) {
        match self {
            GenIcmp::Echo {
                request,
                ident,
                seq_no,
                data,
            } => {
                let h = IcmpEchoHeader {
                    id: *ident,
                    seq: *seq_no,
                };
                let t = if *request {
                    Icmpv4Type::EchoRequest(h)
                } else {
                    Icmpv4Type::EchoReply(h)
                };
                (t, data.clone())
            }
            GenIcmp::DstUnreachable { code, mtu, quote } => (
                Icmpv4Type::DestinationUnreachable(
                    DestUnreachableHeader::from_values(*code, *mtu).unwrap(),
                ),
                quote.bytes(),
            ),
            GenIcmp::TimeExceeded { code, quote } => (
                Icmpv4Type::TimeExceeded(TimeExceededCode::from_u8(*code).unwrap()),
                quote.bytes(),
            ),
            GenIcmp::Redirect {
                code,
                gateway,
                quote,
            } => (
                Icmpv4Type::Redirect(RedirectHeader {
                    code: RedirectCode::from_u8(*code).unwrap(),
                    gateway_internet_address: gateway.octets(),
                }),
                quote.bytes(),
            ),
            GenIcmp::ParamProblem {
                code,
                pointer,
                quote,
            } => (
                Icmpv4Type::ParameterProblem(
                    ParameterProblemHeader::from_values(*code, *pointer).unwrap(),
                ),
                quote.bytes(),
            ),
            GenIcmp::Timestamp {
                reply,
                ident,
                seq_no,
                stamps: [o, r, t],
            } => {
                let m = TimestampMessage {
                    id: *ident,
                    seq: *seq_no,
                    originate_timestamp: *o,
                    receive_timestamp: *r,
                    transmit_timestamp: *t,
                };
                let t = if *reply {
                    Icmpv4Type::TimestampReply(m)
                } else {
                    Icmpv4Type::TimestampRequest(m)
                };
                (t, Vec::new())
            }
        }
    }

    /// Our value for the message; `body` is what follows the 8-byte header. The unused parts
    /// of the second word are zero, as RFC 792 and RFC 1191 have senders write them.
    fn ours<'a>(&self, body: &'a [u8]) -> Repr<'a> {
        match *self {
            GenIcmp::Echo {
                request: true,
                ident,
                seq_no,
                ..
            } => Repr::EchoRequest {
                ident,
                seq_no,
                data: body,
            },
            GenIcmp::Echo { ident, seq_no, .. } => Repr::EchoReply {
                ident,
                seq_no,
                data: body,
            },
            GenIcmp::DstUnreachable { code, mtu, .. } => Repr::DstUnreachable {
                reason: DstUnreachable::from(code),
                next_hop_mtu: if code == 4 { mtu } else { 0 },
                unused: 0,
                invoking: body,
            },
            GenIcmp::TimeExceeded { code, .. } => Repr::TimeExceeded {
                reason: TimeExceeded::from(code),
                unused: 0,
                invoking: body,
            },
            GenIcmp::Redirect { code, gateway, .. } => Repr::Redirect {
                reason: Redirect::from(code),
                gateway,
                invoking: body,
            },
            GenIcmp::ParamProblem { code, pointer, .. } => Repr::ParamProblem {
                reason: ParamProblem::from(code),
                pointer,
                unused: [0; 3],
                invoking: body,
            },
            GenIcmp::Timestamp {
                reply: false,
                ident,
                seq_no,
                stamps: [originate, receive, transmit],
            } => Repr::Timestamp {
                ident,
                seq_no,
                originate,
                receive,
                transmit,
            },
            GenIcmp::Timestamp {
                ident,
                seq_no,
                stamps: [originate, receive, transmit],
                ..
            } => Repr::TimestampReply {
                ident,
                seq_no,
                originate,
                receive,
                transmit,
            },
        }
    }

    fn quote(&self) -> Option<&Quote> {
        match self {
            GenIcmp::Echo { .. } | GenIcmp::Timestamp { .. } => None,
            GenIcmp::DstUnreachable { quote, .. }
            | GenIcmp::TimeExceeded { quote, .. }
            | GenIcmp::Redirect { quote, .. }
            | GenIcmp::ParamProblem { quote, .. } => Some(quote),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse(g in message()) {
        let (t, body) = g.etherparse();
        let mut bytes = Icmpv4Header::with_checksum(t, &body).to_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        prop_assert_eq!(r, g.ours(&body));
        prop_assert_eq!(r.buffer_len(), bytes.len());
        if let GenIcmp::Timestamp { stamps: [o, r, t], .. } = g {
            prop_assert_eq!(p.timestamps(), Some((o, r, t)));
        } else {
            prop_assert_eq!(p.payload(), &body[..]);
        }
        if let Some(q) = g.quote() {
            q.check(&r)?;
        }
        if let GenIcmp::DstUnreachable { code: 4, mtu, .. } = g {
            prop_assert_eq!(p.next_hop_mtu(), mtu);
        }
    }

    #[test]
    fn smoltcp_builds_we_parse(
        g in message(),
        src in addr(),
        dst in addr(),
        protocol in any::<u8>(),
        ttl in any::<u8>(),
        head in any::<[u8; 8]>(),
    ) {
        let caps = ChecksumCapabilities::default();
        let quoted = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::from(protocol),
            payload_len: 8,
            hop_limit: ttl,
        };
        let repr = match &g {
            GenIcmp::Echo { request: true, ident, seq_no, data } => {
                Icmpv4Repr::EchoRequest { ident: *ident, seq_no: *seq_no, data }
            }
            GenIcmp::Echo { ident, seq_no, data, .. } => {
                Icmpv4Repr::EchoReply { ident: *ident, seq_no: *seq_no, data }
            }
            GenIcmp::DstUnreachable { code, .. } => Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::from(*code),
                header: quoted,
                data: &head,
            },
            GenIcmp::TimeExceeded { code, .. } => Icmpv4Repr::TimeExceeded {
                reason: Icmpv4TimeExceeded::from(*code),
                header: quoted,
                data: &head,
            },
            // smoltcp 0.14 has no representation of the others.
            GenIcmp::Redirect { .. } | GenIcmp::ParamProblem { .. } | GenIcmp::Timestamp { .. } => {
                return Ok(())
            }
        };
        let mut buf = a5(repr.buffer_len());
        // smoltcp's error emitter never writes the second word (RFC 792: unused, must be zero)
        // and would leave the 0xa5 filler there; zero it as a sender must.
        buf[4..8].fill(0);
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]), &caps);

        let r = Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), ChecksumCheck::Verify).unwrap();
        match (&g, r) {
            (GenIcmp::Echo { data, .. }, _) => prop_assert_eq!(r, g.ours(data)),
            (GenIcmp::DstUnreachable { code, .. }, Repr::DstUnreachable { reason, next_hop_mtu, unused, .. }) => {
                prop_assert_eq!(reason, DstUnreachable::from(*code));
                prop_assert_eq!((next_hop_mtu, unused), (0, 0));
            }
            (GenIcmp::TimeExceeded { code, .. }, Repr::TimeExceeded { reason, unused, .. }) => {
                prop_assert_eq!(reason, TimeExceeded::from(*code));
                prop_assert_eq!(unused, 0);
            }
            _ => prop_assert!(false, "parsed as {:?}", r),
        }
        if !matches!(g, GenIcmp::Echo { .. }) {
            let inv = r.invoking_datagram().unwrap().unwrap();
            prop_assert_eq!(inv.header.src_addr, src);
            prop_assert_eq!(inv.header.dst_addr, dst);
            prop_assert_eq!(inv.header.protocol, Protocol(protocol));
            prop_assert_eq!(inv.header.ttl, ttl);
            prop_assert_eq!(inv.header.payload_len, 8);
            prop_assert_eq!(inv.payload, &head[..]);
        }
    }

    #[test]
    fn we_emit_oracle_parses(g in message()) {
        let (t, body) = g.etherparse();
        let repr = match &g {
            // The constructors used by the stack, which quote IP header + 8 bytes.
            GenIcmp::DstUnreachable { code, mtu, .. } => {
                Repr::dst_unreachable(DstUnreachable::from(*code), *mtu, &body)
            }
            GenIcmp::TimeExceeded { code, .. } => {
                Repr::time_exceeded(TimeExceeded::from(*code), &body)
            }
            _ => g.ours(&body),
        };
        prop_assert_eq!(repr, g.ours(&body));
        let mut buf = a5(repr.buffer_len());
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));

        let s = Icmpv4Slice::from_slice(&buf).unwrap();
        prop_assert_eq!(s.icmp_type(), t.clone());
        prop_assert_eq!(s.payload(), &body[..]);
        prop_assert_eq!(s.checksum(), t.calc_checksum(&body));
        // Byte for byte what etherparse emits.
        let mut theirs = Icmpv4Header::with_checksum(t, &body).to_bytes().to_vec();
        theirs.extend_from_slice(&body);
        prop_assert_eq!(&buf, &theirs);

        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(u8::from(p.msg_type()), buf[0]);
        let (ty, code) = match g {
            GenIcmp::Echo { request: true, .. } => (Icmpv4Message::EchoRequest, 0),
            GenIcmp::Echo { .. } => (Icmpv4Message::EchoReply, 0),
            GenIcmp::DstUnreachable { code, .. } => (Icmpv4Message::DstUnreachable, code),
            GenIcmp::TimeExceeded { code, .. } => (Icmpv4Message::TimeExceeded, code),
            GenIcmp::Redirect { code, .. } => (Icmpv4Message::Redirect, code),
            GenIcmp::ParamProblem { code, .. } => (Icmpv4Message::ParamProblem, code),
            GenIcmp::Timestamp { reply: false, .. } => (Icmpv4Message::Timestamp, 0),
            GenIcmp::Timestamp { .. } => (Icmpv4Message::TimestampReply, 0),
        };
        prop_assert_eq!(p.msg_type(), ty);
        prop_assert_eq!(p.msg_code(), code);
        // smoltcp's data starts after 8 bytes for every type, timestamps included.
        let data = match &g {
            GenIcmp::Timestamp { stamps, .. } => stamps.iter().flat_map(|s| s.to_be_bytes()).collect(),
            _ => body.clone(),
        };
        prop_assert_eq!(p.data(), &data[..]);
        let caps = ChecksumCapabilities::default();
        match &g {
            GenIcmp::Echo { ident, seq_no, data, .. } => {
                prop_assert_eq!((p.echo_ident(), p.echo_seq_no()), (*ident, *seq_no));
                let expected = if ty == Icmpv4Message::EchoRequest {
                    Icmpv4Repr::EchoRequest { ident: *ident, seq_no: *seq_no, data }
                } else {
                    Icmpv4Repr::EchoReply { ident: *ident, seq_no: *seq_no, data }
                };
                prop_assert_eq!(Icmpv4Repr::parse(&p, &caps).unwrap(), expected);
            }
            GenIcmp::DstUnreachable { quote, .. } | GenIcmp::TimeExceeded { quote, .. }
                if quote.orig_len == 8 =>
            {
                let (header, data) = match Icmpv4Repr::parse(&p, &caps).unwrap() {
                    Icmpv4Repr::DstUnreachable { header, data, .. }
                    | Icmpv4Repr::TimeExceeded { header, data, .. } => (header, data),
                    other => panic!("smoltcp parsed {other:?}"),
                };
                prop_assert_eq!(header.src_addr, quote.ip.src);
                prop_assert_eq!(header.dst_addr, quote.ip.dst);
                prop_assert_eq!(u8::from(header.next_header), quote.ip.protocol);
                prop_assert_eq!(header.hop_limit, quote.ip.ttl);
                prop_assert_eq!(data, &quote.head[..]);
            }
            _ => {}
        }
    }
}
