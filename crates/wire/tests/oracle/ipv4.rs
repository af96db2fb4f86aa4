//! IPv4 headers with options against etherparse (`Ipv4Header`, which carries options as raw
//! bytes) and smoltcp (`Ipv4Packet`). Neither oracle interprets options, so the option list is
//! checked against the generator itself: what it laid out must be what our walker reads.

use std::net::Ipv4Addr;

use burst_wire::ipv4::{Ipv4Option, Options, Packet, Protocol, Repr};
use burst_wire::{ChecksumCheck, ChecksumMode};
use etherparse::{IpDscp, IpEcn, IpFragOffset, IpNumber, Ipv4Header, Ipv4Options};
use proptest::collection::vec;
use proptest::prelude::*;
use smoltcp::wire::{IpProtocol, Ipv4Packet};

use crate::common::{a5_then, addr, payload, trailer};

/// One IPv4 option as the generator laid it out (RFC 791, RFC 2113).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GenOpt {
    /// End of option list (0).
    Eol,
    /// No operation (1).
    Nop,
    /// Record route (7), loose (131) or strict (137) source route.
    Route {
        kind: u8,
        pointer: u8,
        route: Vec<u8>,
    },
    /// Internet timestamp (68).
    Timestamp {
        pointer: u8,
        overflow: u8,
        flag: u8,
        data: Vec<u8>,
    },
    /// Router alert (148).
    RouterAlert(u16),
    /// Any other kind, skipped by its length.
    Unknown { kind: u8, data: Vec<u8> },
}

impl GenOpt {
    fn bytes(&self) -> Vec<u8> {
        match self {
            GenOpt::Eol => vec![0],
            GenOpt::Nop => vec![1],
            GenOpt::Route {
                kind,
                pointer,
                route,
            } => [&[*kind, 3 + route.len() as u8, *pointer][..], route].concat(),
            GenOpt::Timestamp {
                pointer,
                overflow,
                flag,
                data,
            } => [
                &[68, 4 + data.len() as u8, *pointer, (overflow << 4) | flag][..],
                data,
            ]
            .concat(),
            GenOpt::RouterAlert(v) => [&[148, 4][..], &v.to_be_bytes()].concat(),
            GenOpt::Unknown { kind, data } => [&[*kind, 2 + data.len() as u8][..], data].concat(),
        }
    }

    /// What our walker yields, in the generator's terms.
    fn from_ours(o: Ipv4Option<'_>) -> GenOpt {
        match o {
            Ipv4Option::EndOfList => GenOpt::Eol,
            Ipv4Option::NoOperation => GenOpt::Nop,
            Ipv4Option::RecordRoute { pointer, route } => GenOpt::Route {
                kind: 7,
                pointer,
                route: route.to_vec(),
            },
            Ipv4Option::LooseSourceRoute { pointer, route } => GenOpt::Route {
                kind: 131,
                pointer,
                route: route.to_vec(),
            },
            Ipv4Option::StrictSourceRoute { pointer, route } => GenOpt::Route {
                kind: 137,
                pointer,
                route: route.to_vec(),
            },
            Ipv4Option::Timestamp {
                pointer,
                overflow,
                flag,
                data,
            } => GenOpt::Timestamp {
                pointer,
                overflow,
                flag,
                data: data.to_vec(),
            },
            Ipv4Option::RouterAlert(v) => GenOpt::RouterAlert(v),
            Ipv4Option::Unknown { kind, data } => GenOpt::Unknown {
                kind,
                data: data.to_vec(),
            },
        }
    }
}

/// A well-formed option other than End-of-List: routes and timestamps carry whole 32-bit
/// slots (RFC 791), router alert is exactly 4 bytes (RFC 2113), unknown kinds any length.
fn option() -> impl Strategy<Value = GenOpt> {
    prop_oneof![
        Just(GenOpt::Nop),
        (
            prop_oneof![Just(7u8), Just(131u8), Just(137u8)],
            any::<u8>(),
            (0usize..=3).prop_flat_map(|n| vec(any::<u8>(), 4 * n))
        )
            .prop_map(|(kind, pointer, route)| GenOpt::Route {
                kind,
                pointer,
                route
            }),
        (
            any::<u8>(),
            0u8..16,
            0u8..16,
            (0usize..=4).prop_flat_map(|n| vec(any::<u8>(), 4 * n))
        )
            .prop_map(|(pointer, overflow, flag, data)| GenOpt::Timestamp {
                pointer,
                overflow,
                flag,
                data
            }),
        any::<u16>().prop_map(GenOpt::RouterAlert),
        (any::<u8>(), vec(any::<u8>(), 0..=6)).prop_map(|(kind, data)| {
            // Kinds with a meaning of their own would be parsed as such, not as unknown.
            let kind = if matches!(kind, 0 | 1 | 7 | 68 | 131 | 137 | 148) {
                130
            } else {
                kind
            };
            GenOpt::Unknown { kind, data }
        }),
    ]
}

/// An option area: options that fit in 40 bytes, maybe an explicit End-of-List.
#[derive(Debug, Clone)]
pub(crate) struct GenOpts {
    list: Vec<GenOpt>,
    eol: bool,
}

impl GenOpts {
    /// The option bytes before padding.
    pub(crate) fn raw(&self) -> Vec<u8> {
        let mut b: Vec<u8> = self.list.iter().flat_map(GenOpt::bytes).collect();
        if self.eol {
            b.push(0);
        }
        b
    }

    /// The option area as sent: padded with zeros (End-of-List) to a multiple of 4.
    pub(crate) fn padded(&self) -> Vec<u8> {
        let mut b = self.raw();
        b.resize(b.len().next_multiple_of(4), 0);
        b
    }

    /// What a walker must yield: the options, then End-of-List if one was sent or padding
    /// (which is End-of-List bytes) follows.
    pub(crate) fn expected(&self) -> Vec<GenOpt> {
        let mut v = self.list.clone();
        let unpadded: usize = self.list.iter().map(|o| o.bytes().len()).sum();
        if self.eol || self.padded().len() > unpadded {
            v.push(GenOpt::Eol);
        }
        v
    }
}

pub(crate) fn options() -> impl Strategy<Value = GenOpts> {
    (vec(option(), 0..=6), any::<bool>()).prop_map(|(all, eol)| {
        let room = if eol { 39 } else { 40 };
        let mut used = 0;
        let list = all
            .into_iter()
            .take_while(|o| {
                used += o.bytes().len();
                used <= room
            })
            .collect();
        GenOpts { list, eol }
    })
}

/// Random IPv4 header values.
#[derive(Debug, Clone)]
pub(crate) struct GenIpv4 {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    pub(crate) dscp: u8,
    pub(crate) ecn: u8,
    pub(crate) ident: u16,
    pub(crate) df: bool,
    pub(crate) mf: bool,
    /// Fragment offset in 8-byte units.
    pub(crate) frag_units: u16,
    pub(crate) ttl: u8,
    pub(crate) protocol: u8,
    pub(crate) options: GenOpts,
}

prop_compose! {
    pub(crate) fn header()(
        src in addr(),
        dst in addr(),
        dscp in 0u8..64,
        ecn in 0u8..4,
        ident in any::<u16>(),
        df in any::<bool>(),
        mf in any::<bool>(),
        frag_units in prop_oneof![Just(0u16), 0u16..0x2000],
        ttl in any::<u8>(),
        protocol in any::<u8>(),
        options in options(),
    ) -> GenIpv4 {
        GenIpv4 { src, dst, dscp, ecn, ident, df, mf, frag_units, ttl, protocol, options }
    }
}

impl GenIpv4 {
    /// Keeps the fragment within 65535 bytes: a fragment whose offset plus payload runs past the
    /// largest datagram (the "ping of death" shape, RFC 791 §3.2 total length) is rejected by
    /// our parser on purpose, while etherparse builds it without complaint.
    pub(crate) fn fit_fragment(&mut self, payload_len: usize) {
        let max_units = ((65535 - payload_len) / 8) as u16;
        self.frag_units = self.frag_units.min(max_units);
    }

    pub(crate) fn header_len(&self) -> usize {
        20 + self.options.padded().len()
    }

    /// etherparse's header for these values, with total length and checksum filled in.
    pub(crate) fn etherparse(&self, payload_len: usize) -> Ipv4Header {
        let mut h = Ipv4Header {
            dscp: IpDscp::try_new(self.dscp).unwrap(),
            ecn: IpEcn::try_new(self.ecn).unwrap(),
            total_len: 0,
            identification: self.ident,
            dont_fragment: self.df,
            more_fragments: self.mf,
            fragment_offset: IpFragOffset::try_new(self.frag_units).unwrap(),
            time_to_live: self.ttl,
            protocol: IpNumber(self.protocol),
            header_checksum: 0,
            source: self.src.octets(),
            destination: self.dst.octets(),
            options: Ipv4Options::try_from(&self.options.padded()[..]).unwrap(),
        };
        h.set_payload_len(payload_len).unwrap();
        h.header_checksum = h.calc_header_checksum();
        h
    }

    /// Our value for the same fields.
    pub(crate) fn ours(&self, payload_len: usize) -> Repr {
        Repr {
            src_addr: self.src,
            dst_addr: self.dst,
            protocol: Protocol(self.protocol),
            payload_len,
            ttl: self.ttl,
            dscp: self.dscp,
            ecn: self.ecn,
            ident: self.ident,
            dont_frag: self.df,
            more_frags: self.mf,
            frag_offset: self.frag_units * 8,
            options: Options::from_bytes(&self.options.raw()).unwrap(),
        }
    }

    /// Asserts that a parsed value holds every generated field.
    pub(crate) fn check(&self, r: &Repr, payload_len: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(r.src_addr, self.src);
        prop_assert_eq!(r.dst_addr, self.dst);
        prop_assert_eq!(r.protocol, Protocol(self.protocol));
        prop_assert_eq!(r.payload_len, payload_len);
        prop_assert_eq!(r.ttl, self.ttl);
        prop_assert_eq!(r.dscp, self.dscp);
        prop_assert_eq!(r.ecn, self.ecn);
        prop_assert_eq!(r.ident, self.ident);
        prop_assert_eq!(r.dont_frag, self.df);
        prop_assert_eq!(r.more_frags, self.mf);
        prop_assert_eq!(r.frag_offset, self.frag_units * 8);
        prop_assert_eq!(r.options.as_bytes(), &self.options.padded()[..]);
        let walked: Vec<GenOpt> = r
            .options
            .iter()
            .map(|o| GenOpt::from_ours(o.unwrap()))
            .collect();
        prop_assert_eq!(walked, self.options.expected());
        prop_assert_eq!(r.header_len(), self.header_len());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse(mut g in header(), payload in payload(), pad in trailer()) {
        g.fit_fragment(payload.len());
        let hl = g.header_len();

        // etherparse, with Ethernet padding after the datagram.
        let mut bytes = g.etherparse(payload.len()).to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&pad);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        g.check(&r, payload.len())?;
        prop_assert_eq!(p.payload(), &payload[..]);

        // smoltcp's setters into a 0xa5 buffer (it has no option support: those bytes are ours
        // to place, its checksum covers them through the header length).
        let mut buf = a5_then(hl, &payload);
        let mut s = Ipv4Packet::new_unchecked(&mut buf[..]);
        s.set_version(4);
        s.set_header_len(hl as u8);
        s.set_dscp(g.dscp);
        s.set_ecn(g.ecn);
        s.set_total_len((hl + payload.len()) as u16);
        s.set_ident(g.ident);
        s.clear_flags();
        s.set_dont_frag(g.df);
        s.set_more_frags(g.mf);
        s.set_frag_offset(g.frag_units * 8);
        s.set_hop_limit(g.ttl);
        s.set_next_header(IpProtocol::from(g.protocol));
        s.set_src_addr(g.src);
        s.set_dst_addr(g.dst);
        buf[20..hl].copy_from_slice(&g.options.padded());
        Ipv4Packet::new_unchecked(&mut buf[..]).fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        g.check(&Repr::parse(&p, ChecksumCheck::Verify).unwrap(), payload.len())?;
        // Both builders wrote the same header.
        prop_assert_eq!(&buf[..hl], &bytes[..hl]);
    }

    #[test]
    fn we_emit_oracle_parses(mut g in header(), payload in payload()) {
        g.fit_fragment(payload.len());
        let repr = g.ours(payload.len());
        let hl = repr.header_len();
        let mut buf = a5_then(hl, &payload);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), ChecksumMode::Compute);

        let (h, rest) = Ipv4Header::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source, g.src.octets());
        prop_assert_eq!(h.destination, g.dst.octets());
        prop_assert_eq!(h.protocol.0, g.protocol);
        prop_assert_eq!(h.time_to_live, g.ttl);
        prop_assert_eq!(h.dscp.value(), g.dscp);
        prop_assert_eq!(h.ecn.value(), g.ecn);
        prop_assert_eq!(h.identification, g.ident);
        prop_assert_eq!(h.dont_fragment, g.df);
        prop_assert_eq!(h.more_fragments, g.mf);
        prop_assert_eq!(h.fragment_offset.value(), g.frag_units);
        prop_assert_eq!(usize::from(h.total_len), hl + payload.len());
        prop_assert_eq!(h.options.as_slice(), &g.options.padded()[..]);
        prop_assert_eq!(h.header_len(), hl);
        // etherparse's checksum over our header is the one we wrote.
        prop_assert_eq!(h.header_checksum, h.calc_header_checksum());
        prop_assert_eq!(rest, &payload[..]);
        // Byte for byte what etherparse emits (the reserved flag bit is clear in both).
        prop_assert_eq!(&buf[..hl], &g.etherparse(payload.len()).to_bytes()[..]);

        let s = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(s.verify_checksum());
        prop_assert_eq!(s.version(), 4);
        prop_assert_eq!(usize::from(s.header_len()), hl);
        prop_assert_eq!(s.dscp(), g.dscp);
        prop_assert_eq!(s.ecn(), g.ecn);
        prop_assert_eq!(s.ident(), g.ident);
        prop_assert_eq!(s.dont_frag(), g.df);
        prop_assert_eq!(s.more_frags(), g.mf);
        prop_assert_eq!(s.frag_offset(), g.frag_units * 8);
        prop_assert_eq!(s.hop_limit(), g.ttl);
        prop_assert_eq!(u8::from(s.next_header()), g.protocol);
        prop_assert_eq!(s.src_addr(), g.src);
        prop_assert_eq!(s.dst_addr(), g.dst);
        prop_assert_eq!(s.payload(), &payload[..]);
    }
}
