//! TCP headers and options (MSS, window scale, SACK-permitted, 1 to 4 SACK blocks, timestamps,
//! NOPs) against etherparse (`TcpHeader`, `TcpOptionElement`) and smoltcp (`TcpPacket`,
//! `TcpOption`).

use std::net::Ipv4Addr;

use burst_wire::tcp::{
    Flags, Options, Packet, Padding, Repr, SackBlocks, SeqNumber, TcpOption, HEADER_LEN,
};
use burst_wire::{ChecksumCheck, ChecksumMode};
use etherparse::{TcpHeader, TcpOptionElement, TcpOptions};
use proptest::collection::vec;
use proptest::prelude::*;
use smoltcp::wire::{IpAddress, TcpOption as SmolOpt, TcpPacket, TcpSeqNumber};

use crate::common::{a5, a5_then, addr, cancel_sum, payload};

/// One TCP option as the generator chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GenOpt {
    /// End of option list (only ever as padding).
    Eol,
    Nop,
    Mss(u16),
    Ws(u8),
    SackPermitted,
    /// 1 to 4 blocks.
    Sack(Vec<(u32, u32)>),
    Ts(u32, u32),
}

impl GenOpt {
    fn wire_len(&self) -> usize {
        match self {
            GenOpt::Eol | GenOpt::Nop => 1,
            GenOpt::Mss(_) => 4,
            GenOpt::Ws(_) => 3,
            GenOpt::SackPermitted => 2,
            GenOpt::Sack(b) => 2 + 8 * b.len(),
            GenOpt::Ts(..) => 10,
        }
    }

    fn etherparse(&self) -> TcpOptionElement {
        match self {
            GenOpt::Eol => unreachable!("etherparse has no End-of-List element"),
            GenOpt::Nop => TcpOptionElement::Noop,
            GenOpt::Mss(v) => TcpOptionElement::MaximumSegmentSize(*v),
            GenOpt::Ws(v) => TcpOptionElement::WindowScale(*v),
            GenOpt::SackPermitted => TcpOptionElement::SelectiveAcknowledgementPermitted,
            GenOpt::Sack(b) => TcpOptionElement::SelectiveAcknowledgement(
                b[0],
                [b.get(1).copied(), b.get(2).copied(), b.get(3).copied()],
            ),
            GenOpt::Ts(a, b) => TcpOptionElement::Timestamp(*a, *b),
        }
    }

    fn from_etherparse(e: TcpOptionElement) -> GenOpt {
        match e {
            TcpOptionElement::Noop => GenOpt::Nop,
            TcpOptionElement::MaximumSegmentSize(v) => GenOpt::Mss(v),
            TcpOptionElement::WindowScale(v) => GenOpt::Ws(v),
            TcpOptionElement::SelectiveAcknowledgementPermitted => GenOpt::SackPermitted,
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => GenOpt::Sack(
                std::iter::once(first)
                    .chain(rest.into_iter().flatten())
                    .collect(),
            ),
            TcpOptionElement::Timestamp(a, b) => GenOpt::Ts(a, b),
        }
    }

    fn ours(&self) -> TcpOption<'static> {
        match self {
            GenOpt::Eol => TcpOption::EndOfList,
            GenOpt::Nop => TcpOption::NoOperation,
            GenOpt::Mss(v) => TcpOption::MaxSegmentSize(*v),
            GenOpt::Ws(v) => TcpOption::WindowScale(*v),
            GenOpt::SackPermitted => TcpOption::SackPermitted,
            GenOpt::Sack(b) => TcpOption::SackBlocks(SackBlocks::new(b).unwrap()),
            GenOpt::Ts(tsval, tsecr) => TcpOption::Timestamp {
                tsval: *tsval,
                tsecr: *tsecr,
            },
        }
    }

    fn from_ours(o: TcpOption<'_>) -> GenOpt {
        match o {
            TcpOption::EndOfList => GenOpt::Eol,
            TcpOption::NoOperation => GenOpt::Nop,
            TcpOption::MaxSegmentSize(v) => GenOpt::Mss(v),
            TcpOption::WindowScale(v) => GenOpt::Ws(v),
            TcpOption::SackPermitted => GenOpt::SackPermitted,
            TcpOption::SackBlocks(s) => GenOpt::Sack(s.as_slice().to_vec()),
            TcpOption::Timestamp { tsval, tsecr } => GenOpt::Ts(tsval, tsecr),
            TcpOption::Unknown { kind, .. } => panic!("generator never makes kind {kind}"),
        }
    }

    /// smoltcp's view. It keeps at most 3 SACK blocks (`SackRange([Option; 3])`, dropping a
    /// 4th by design, see its `TcpOption::parse`), so a 4-block option compares on the first 3.
    fn smoltcp(&self) -> SmolOpt<'static> {
        match self {
            GenOpt::Eol => SmolOpt::EndOfList,
            GenOpt::Nop => SmolOpt::NoOperation,
            GenOpt::Mss(v) => SmolOpt::MaxSegmentSize(*v),
            GenOpt::Ws(v) => SmolOpt::WindowScale(*v),
            GenOpt::SackPermitted => SmolOpt::SackPermitted,
            GenOpt::Sack(b) => {
                SmolOpt::SackRange([b.first().copied(), b.get(1).copied(), b.get(2).copied()])
            }
            GenOpt::Ts(tsval, tsecr) => SmolOpt::TimeStamp {
                tsval: *tsval,
                tsecr: *tsecr,
            },
        }
    }
}

fn option() -> impl Strategy<Value = GenOpt> {
    prop_oneof![
        Just(GenOpt::Nop),
        any::<u16>().prop_map(GenOpt::Mss),
        any::<u8>().prop_map(GenOpt::Ws),
        Just(GenOpt::SackPermitted),
        vec(any::<(u32, u32)>(), 1..=4).prop_map(GenOpt::Sack),
        any::<(u32, u32)>().prop_map(|(a, b)| GenOpt::Ts(a, b)),
    ]
}

/// Options in any order (NOPs anywhere, so later options are unaligned too) that fit in 40
/// bytes.
pub(crate) fn options() -> impl Strategy<Value = Vec<GenOpt>> {
    vec(option(), 0..=8).prop_map(|all| {
        let mut used = 0;
        all.into_iter()
            .take_while(|o| {
                used += o.wire_len();
                used <= 40
            })
            .collect()
    })
}

fn unpadded_len(opts: &[GenOpt]) -> usize {
    opts.iter().map(GenOpt::wire_len).sum()
}

/// Random TCP header values.
#[derive(Debug, Clone)]
pub(crate) struct GenTcp {
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    /// FIN (bit 0) to CWR (bit 7) and NS (bit 8).
    pub(crate) flags: u16,
    pub(crate) window: u16,
    pub(crate) urgent: u16,
    pub(crate) options: Vec<GenOpt>,
}

prop_compose! {
    pub(crate) fn header()(
        sport in any::<u16>(),
        dport in any::<u16>(),
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in 0u16..0x200,
        window in any::<u16>(),
        urgent in any::<u16>(),
        options in options(),
    ) -> GenTcp {
        GenTcp { sport, dport, seq, ack, flags, window, urgent, options }
    }
}

impl GenTcp {
    pub(crate) fn header_len(&self) -> usize {
        HEADER_LEN + unpadded_len(&self.options).next_multiple_of(4)
    }

    /// etherparse's header for these values (options padded with zeros), checksum filled in.
    pub(crate) fn etherparse(&self, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> TcpHeader {
        let bit = |n: u16| self.flags & (1 << n) != 0;
        let elements: Vec<TcpOptionElement> = self.options.iter().map(GenOpt::etherparse).collect();
        let mut h = TcpHeader {
            source_port: self.sport,
            destination_port: self.dport,
            sequence_number: self.seq,
            acknowledgment_number: self.ack,
            fin: bit(0),
            syn: bit(1),
            rst: bit(2),
            psh: bit(3),
            ack: bit(4),
            urg: bit(5),
            ece: bit(6),
            cwr: bit(7),
            ns: bit(8),
            window_size: self.window,
            checksum: 0,
            urgent_pointer: self.urgent,
            options: TcpOptions::try_from_elements(&elements).unwrap(),
        };
        h.checksum = h
            .calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
            .unwrap();
        h
    }

    /// What our walker must yield over the zero-padded options.
    fn expected_walk(&self) -> Vec<GenOpt> {
        let mut v = self.options.clone();
        if unpadded_len(&self.options) % 4 != 0 {
            v.push(GenOpt::Eol);
        }
        v
    }

    /// Asserts that a parsed value holds every generated field.
    pub(crate) fn check(&self, r: &Repr, payload_len: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(r.src_port, self.sport);
        prop_assert_eq!(r.dst_port, self.dport);
        prop_assert_eq!(r.seq, SeqNumber(self.seq));
        prop_assert_eq!(r.ack_number, SeqNumber(self.ack));
        prop_assert_eq!(r.flags.bits(), self.flags);
        prop_assert_eq!(r.reserved, 0);
        prop_assert_eq!(r.window, self.window);
        prop_assert_eq!(r.urgent, self.urgent);
        prop_assert_eq!(r.payload_len, payload_len);
        prop_assert_eq!(r.header_len(), self.header_len());
        let walked: Vec<GenOpt> = r
            .options
            .iter()
            .map(|o| GenOpt::from_ours(o.unwrap()))
            .collect();
        prop_assert_eq!(walked, self.expected_walk());
        // The accessors find the first option of each kind.
        let first = |f: fn(&GenOpt) -> Option<GenOpt>| self.options.iter().find_map(f);
        prop_assert_eq!(
            r.options.mss().map(GenOpt::Mss),
            first(|o| matches!(o, GenOpt::Mss(_)).then(|| o.clone()))
        );
        prop_assert_eq!(
            r.options.window_scale().map(GenOpt::Ws),
            first(|o| matches!(o, GenOpt::Ws(_)).then(|| o.clone()))
        );
        prop_assert_eq!(
            r.options.sack_permitted(),
            self.options.contains(&GenOpt::SackPermitted)
        );
        prop_assert_eq!(
            r.options
                .sack_blocks()
                .map(|s| GenOpt::Sack(s.as_slice().to_vec())),
            first(|o| matches!(o, GenOpt::Sack(_)).then(|| o.clone()))
        );
        prop_assert_eq!(
            r.options.timestamp().map(|(a, b)| GenOpt::Ts(a, b)),
            first(|o| matches!(o, GenOpt::Ts(..)).then(|| o.clone()))
        );
        Ok(())
    }
}

/// Walks options with smoltcp's parser up to the first End-of-List.
fn smoltcp_walk(mut bytes: &[u8]) -> Vec<SmolOpt<'_>> {
    let mut v = Vec::new();
    while !bytes.is_empty() {
        let (rest, o) = SmolOpt::parse(bytes).unwrap();
        v.push(o);
        if o == SmolOpt::EndOfList {
            break;
        }
        bytes = rest;
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse(
        g in header(),
        src in addr(),
        dst in addr(),
        mut payload in payload(),
        zero_sum in prop::bool::weighted(0.25),
    ) {
        if zero_sum {
            cancel_sum(&mut payload, |p| g.etherparse(src, dst, p).checksum);
        }
        let h = g.etherparse(src, dst, &payload);
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap();
        g.check(&r, payload.len())?;
        prop_assert_eq!(p.payload(), &payload[..]);

        // smoltcp's setters and option emitter into a 0xa5 buffer. Its SACK option holds at
        // most 3 blocks, so segments with a 4-block SACK are etherparse's alone.
        if g.options.iter().any(|o| matches!(o, GenOpt::Sack(b) if b.len() == 4)) {
            return Ok(());
        }
        let hl = g.header_len();
        let mut buf = a5_then(hl, &payload);
        {
            let mut s = TcpPacket::new_unchecked(&mut buf[..]);
            s.set_src_port(g.sport);
            s.set_dst_port(g.dport);
            s.set_seq_number(TcpSeqNumber(g.seq as i32));
            s.set_ack_number(TcpSeqNumber(g.ack as i32));
            s.set_header_len(hl as u8);
            s.clear_flags();
            let bit = |n: u16| g.flags & (1 << n) != 0;
            s.set_fin(bit(0));
            s.set_syn(bit(1));
            s.set_rst(bit(2));
            s.set_psh(bit(3));
            s.set_ack(bit(4));
            s.set_urg(bit(5));
            s.set_ece(bit(6));
            s.set_cwr(bit(7));
            s.set_ns(bit(8));
            s.set_window_len(g.window);
            s.set_urgent_at(g.urgent);
            let mut area = s.options_mut();
            for o in &g.options {
                area = o.smoltcp().emit(area);
            }
            if !area.is_empty() {
                SmolOpt::EndOfList.emit(area);
            }
            s.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
        }
        let p = Packet::new_checked(&buf[..]).unwrap();
        g.check(&Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap(), payload.len())?;
        prop_assert_eq!(&buf[..], &bytes[..]);
    }

    #[test]
    fn we_emit_oracle_parses(
        g in header(),
        src in addr(),
        dst in addr(),
        mut payload in payload(),
        nop_padding in any::<bool>(),
        zero_sum in prop::bool::weighted(0.25),
    ) {
        if zero_sum {
            // (Only an EOL-padded layout is etherparse's, so only its sum cancels exactly.)
            cancel_sum(&mut payload, |p| g.etherparse(src, dst, p).checksum);
        }
        let padding = if nop_padding { Padding::Nop } else { Padding::Eol };
        let options = g
            .options
            .iter()
            .fold(Options::builder(), |b, o| b.push(o.ours()))
            .finish(padding)
            .unwrap();
        let repr = Repr {
            src_port: g.sport,
            dst_port: g.dport,
            seq: SeqNumber(g.seq),
            ack_number: SeqNumber(g.ack),
            flags: Flags::from_bits_truncate(g.flags),
            reserved: 0,
            window: g.window,
            urgent: g.urgent,
            options,
            payload_len: payload.len(),
        };
        let hl = repr.header_len();
        prop_assert_eq!(hl, g.header_len());
        let mut buf = a5_then(hl, &payload);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst, ChecksumMode::Compute);

        let (h, rest) = TcpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source_port, g.sport);
        prop_assert_eq!(h.destination_port, g.dport);
        prop_assert_eq!(h.sequence_number, g.seq);
        prop_assert_eq!(h.acknowledgment_number, g.ack);
        let flags = [h.fin, h.syn, h.rst, h.psh, h.ack, h.urg, h.ece, h.cwr, h.ns]
            .iter()
            .enumerate()
            .fold(0u16, |acc, (i, &on)| acc | (u16::from(on) << i));
        prop_assert_eq!(flags, g.flags);
        prop_assert_eq!(h.window_size, g.window);
        prop_assert_eq!(h.urgent_pointer, g.urgent);
        prop_assert_eq!(h.header_len(), hl);
        prop_assert_eq!(rest, &payload[..]);
        prop_assert_eq!(
            h.checksum,
            h.calc_checksum_ipv4_raw(src.octets(), dst.octets(), rest).unwrap()
        );
        // etherparse stops at End-of-List and yields NOP padding as NOPs.
        let walked: Vec<GenOpt> = h
            .options_iterator()
            .map(|e| GenOpt::from_etherparse(e.unwrap()))
            .collect();
        let mut expected = g.options.clone();
        if nop_padding {
            expected.resize(g.options.len() + hl - HEADER_LEN - unpadded_len(&g.options), GenOpt::Nop);
        }
        prop_assert_eq!(walked, expected);
        if !nop_padding {
            // Byte for byte what etherparse emits (it pads with zeros too); a zero checksum
            // stays zero (TCP has no "no checksum" value to avoid).
            prop_assert_eq!(&buf[..hl], &g.etherparse(src, dst, &payload).to_bytes()[..]);
            if zero_sum {
                prop_assert_eq!(h.checksum, 0);
            }
        }

        let (s, d) = (IpAddress::Ipv4(src), IpAddress::Ipv4(dst));
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum(&s, &d));
        prop_assert_eq!(p.src_port(), g.sport);
        prop_assert_eq!(p.dst_port(), g.dport);
        prop_assert_eq!(p.seq_number().0 as u32, g.seq);
        prop_assert_eq!(p.ack_number().0 as u32, g.ack);
        let sf = [p.fin(), p.syn(), p.rst(), p.psh(), p.ack(), p.urg(), p.ece(), p.cwr(), p.ns()]
            .iter()
            .enumerate()
            .fold(0u16, |acc, (i, &on)| acc | (u16::from(on) << i));
        prop_assert_eq!(sf, g.flags);
        prop_assert_eq!(p.window_len(), g.window);
        prop_assert_eq!(p.urgent_at(), g.urgent);
        prop_assert_eq!(usize::from(p.header_len()), hl);
        prop_assert_eq!(p.payload(), &payload[..]);
        let mut expected: Vec<SmolOpt<'_>> = g.options.iter().map(GenOpt::smoltcp).collect();
        let pad = hl - HEADER_LEN - unpadded_len(&g.options);
        if nop_padding {
            expected.extend(std::iter::repeat_n(SmolOpt::NoOperation, pad));
        } else if pad > 0 {
            expected.push(SmolOpt::EndOfList);
        }
        prop_assert_eq!(smoltcp_walk(p.options()), expected);
    }

    #[test]
    fn linux_layouts_read_back_in_etherparse(
        mss in any::<u16>(),
        ws in proptest::option::of(any::<u8>()),
        sack_permitted in any::<bool>(),
        ts in proptest::option::of(any::<(u32, u32)>()),
        blocks in proptest::option::of(vec(any::<(u32, u32)>(), 1..=4)),
    ) {
        let read = |o: &Options| -> Vec<GenOpt> {
            assert_eq!(o.len() % 4, 0);
            TcpOptions::try_from_slice(o.as_bytes())
                .unwrap()
                .elements_iter()
                .map(|e| GenOpt::from_etherparse(e.unwrap()))
                .filter(|e| *e != GenOpt::Nop)
                .collect()
        };

        let syn = Options::syn(mss, ws, sack_permitted, ts);
        let mut expected = vec![GenOpt::Mss(mss)];
        if sack_permitted {
            expected.push(GenOpt::SackPermitted);
        }
        if let Some((a, b)) = ts {
            expected.push(GenOpt::Ts(a, b));
        }
        if let Some(w) = ws {
            expected.push(GenOpt::Ws(w));
        }
        prop_assert_eq!(read(&syn), expected);

        let sack = blocks.as_ref().map(|b| SackBlocks::new(b).unwrap());
        let ack = Options::ack(ts, sack);
        let mut expected = Vec::new();
        if let Some((a, b)) = ts {
            expected.push(GenOpt::Ts(a, b));
        }
        if let Some(b) = &blocks {
            // With timestamps only 3 blocks fit in 40 bytes; the first ones are kept.
            let fit = if ts.is_some() { 3 } else { 4 };
            expected.push(GenOpt::Sack(b[..b.len().min(fit)].to_vec()));
        }
        prop_assert_eq!(read(&ack), expected);
    }
}

#[test]
fn empty_segment_has_a_valid_checksum_for_both_oracles() {
    // All-zero fields: the segment sum is the pseudo-header alone.
    let src = Ipv4Addr::UNSPECIFIED;
    let mut buf = a5(HEADER_LEN);
    Repr::default().emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        src,
        src,
        ChecksumMode::Compute,
    );
    let (h, _) = TcpHeader::from_slice(&buf).unwrap();
    assert_eq!(
        h.checksum,
        h.calc_checksum_ipv4_raw([0; 4], [0; 4], &[]).unwrap()
    );
    let p = TcpPacket::new_checked(&buf[..]).unwrap();
    assert!(p.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(src)));
}
