use super::*;
use std::format;
use std::vec::Vec;

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

/// Emits `r` with `payload` on a 0xa5 buffer; returns the segment bytes.
fn emit(r: &Repr, payload: &[u8], mode: ChecksumMode) -> Vec<u8> {
    assert_eq!(r.payload_len, payload.len());
    let mut buf = std::vec![0xa5u8; r.buffer_len()];
    buf[r.header_len()..].copy_from_slice(payload);
    r.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, mode);
    buf
}

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    s.chunks(2)
        .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed {
        layer: Layer::TcpOption,
        what,
    }
}

#[test]
fn seq_numbers_wrap() {
    let a = SeqNumber(0xffff_fff0);
    let b = a + 0x20;
    assert_eq!(b, SeqNumber(0x10));
    assert_eq!(
        [a < b, a <= b, b > a, b >= a, b < a],
        [true, true, true, true, false]
    );
    assert_eq!(b - a, 0x20);
    assert_eq!(a - b, -0x20);
    assert_eq!(b - 0x20, a);
    let mut c = a;
    c += 0x10;
    assert_eq!(c, SeqNumber(0));
    c -= 1;
    assert_eq!(c, SeqNumber(u32::MAX));
    assert_eq!(a.max(b), b);
    assert_eq!(b.min(a), a);
    assert!(SeqNumber(5) <= SeqNumber(5) && SeqNumber(5) >= SeqNumber(5));
    // Just under half the space apart is still ordered; exactly half is incomparable.
    let far = SeqNumber(0) + 0x7fff_ffff;
    assert!(SeqNumber(0) < far && far > SeqNumber(0));
    let half = SeqNumber(0x8000_0000);
    assert_eq!(SeqNumber(0).partial_cmp(&half), None);
    let z = SeqNumber(0);
    assert_eq!(
        [z < half, z <= half, z > half, z >= half, half < z],
        [false; 5]
    );
    assert_eq!(format!("{} {:?}", b, b), "16 SeqNumber(16)");
    assert_eq!(u32::from(SeqNumber::from(7)), 7);
}

#[test]
fn flags_print_like_tcpdump() {
    let cases = [
        (Flags::SYN, "S"),
        (Flags::SYN | Flags::ACK, "S."),
        (Flags::ACK, "."),
        (Flags::PSH | Flags::ACK, "P."),
        (Flags::FIN | Flags::ACK, "F."),
        (Flags::RST, "R"),
        (Flags::RST | Flags::ACK, "R."),
        (Flags::SYN | Flags::ECE | Flags::CWR, "SEW"),
        (Flags::URG | Flags::ACK | Flags::NS, ".Ue"),
        (Flags::empty(), "none"),
    ];
    for (f, s) in cases {
        assert_eq!(format!("{f}"), s);
    }
    assert_eq!(format!("{:?}", Flags::SYN), "Flags(S)");
    let mut f = Flags::SYN.union(Flags::ACK);
    assert!(f.contains(Flags::SYN) && !f.contains(Flags::SYN | Flags::FIN));
    assert!(f.intersects(Flags::SYN | Flags::FIN));
    f.set(Flags::SYN, false);
    f.insert(Flags::FIN);
    f.remove(Flags::ACK);
    assert_eq!(f, Flags::FIN);
    f |= Flags::ACK;
    f &= !Flags::FIN;
    assert_eq!(f & Flags::ALL, Flags::ACK);
    assert_eq!(Flags::from_bits_truncate(0xffff).bits(), 0x1ff);
    assert!(Flags::empty().is_empty());
}

/// Seed 001, first capture: a SYN with MSS, NOP, WS 5, NOP, NOP, TS, NOP, NOP,
/// SACK-permitted and a data offset of 44 bytes.
#[test]
fn seed_syn_with_data_offset_44() {
    let options = Options::builder()
        .mss(1460)
        .nop()
        .window_scale(5)
        .nop()
        .nop()
        .timestamp(2525186, 0)
        .nop()
        .nop()
        .sack_permitted()
        .finish(Padding::Eol)
        .unwrap();
    let r = Repr {
        src_port: 1217,
        dst_port: 139,
        seq: SeqNumber(725163),
        flags: Flags::SYN,
        window: 65535,
        options,
        ..Repr::default()
    };
    assert_eq!(r.header_len(), 44);
    assert_eq!(r.segment_len(), 1);
    let buf = emit(&r, &[], ChecksumMode::Compute);
    assert_eq!(
        &buf[..16],
        &hex("04c1 008b 000b 10ab 0000 0000 b002 ffff")[..]
    );
    assert_eq!(&buf[18..20], &[0, 0]);
    assert_eq!(
        &buf[20..],
        &hex("0204 05b4 0103 0305 0101 080a 0026 8802 0000 0000 0101 0402")[..]
    );
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.header_len(), 44);
    let got = Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap();
    assert_eq!(got, r);
    assert_eq!(got.ack(), None);
    assert_eq!(got.options.mss(), Some(1460));
    assert_eq!(got.options.window_scale(), Some(5));
    assert!(got.options.sack_permitted());
    assert_eq!(got.options.timestamp(), Some((2525186, 0)));
    assert_eq!(got.options.sack_blocks(), None);
}

/// Seed 001, second capture: an ACK with NOP NOP TS NOP NOP SACK (one block), ack
/// 54857341, data offset 44.
#[test]
fn seed_ack_with_one_sack_block() {
    let sack = SackBlocks::single(54858789, 54861685);
    let mut r = Repr {
        src_port: 1242,
        dst_port: 139,
        seq: SeqNumber(925104),
        window: 32722,
        options: Options::ack(Some((2525186, 1823192)), Some(sack)),
        ..Repr::default()
    };
    r.set_ack(Some(SeqNumber(54857341)));
    assert_eq!(r.flags, Flags::ACK);
    assert_eq!(r.header_len(), 44);
    let buf = emit(&r, &[], ChecksumMode::Compute);
    assert_eq!(&buf[8..14], &hex("0345 0e7d b010"));
    assert_eq!(
        &buf[20..],
        &hex("0101 080a 0026 8802 001b d1d8 0101 050a 0345 1425 0345 1f75")[..]
    );
    let got = Repr::parse(
        &Packet::new_checked(&buf[..]).unwrap(),
        SRC,
        DST,
        ChecksumCheck::Verify,
    )
    .unwrap();
    assert_eq!(got, r);
    assert_eq!(got.ack(), Some(SeqNumber(54857341)));
    assert_eq!(got.options.sack_blocks(), Some(sack));
    assert_eq!(
        got.options.sack_blocks().unwrap().as_slice(),
        &[(54858789, 54861685)]
    );
    assert_eq!(got.options.timestamp(), Some((2525186, 1823192)));
    let items: Vec<_> = got.options.iter().map(Result::unwrap).collect();
    assert_eq!(
        items,
        [
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::Timestamp {
                tsval: 2525186,
                tsecr: 1823192
            },
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::SackBlocks(sack),
        ]
    );
}

/// Segments from public tcpdump captures of Linux hosts (IPv4 src, dst, TCP bytes).
/// tcpdump reported these checksums as correct; they are not from the seeds.
fn linux_captures() -> [(Ipv4Addr, Ipv4Addr, Vec<u8>); 5] {
    [
        // SYN: mss 1460, sackOK, TS val 949598155 ecr 0, nop, wscale 7.
        (
            Ipv4Addr::new(188, 188, 3, 240),
            Ipv4Addr::new(112, 65, 227, 148),
            hex("15e4 0050 930a bbdf 0000 0000 a002 3908 a4f2 0000
                 0204 05b4 0402 080a 3899 b7cb 0000 0000 0103 0307"),
        ),
        // ACK: nop, nop, TS, nop, nop, sack 1 {1:139}.
        (
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(10, 99, 0, 2),
            hex("e712 1f40 67a1 5f1e 2d70 c7d0 b010 0809 51f0 0000
                 0101 080a 061c 0477 9dac 7d95 0101 050a 2d70 c728 2d70 c7b2"),
        ),
        // FIN-ACK: nop, nop, TS.
        (
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(10, 99, 0, 2),
            hex("e712 1f40 67a1 5f1e 2d70 c7d0 8011 0809 71c2 0000
                 0101 080a 061c 0477 9dac 7d95"),
        ),
        // ACK with a SACK block below the ack number (a D-SACK).
        (
            Ipv4Addr::new(192, 168, 1, 105),
            Ipv4Addr::new(63, 247, 78, 178),
            hex("da4f 0050 68aa 05bf 4d2c c33e b010 006d cd79 0000
                 0101 080a 0001 9204 a38d 5980 0101 050a 4d2c ce8e 4d2c d095"),
        ),
        // PSH-ACK with a one-byte payload (odd length for the checksum).
        (
            Ipv4Addr::new(172, 250, 10, 10),
            Ipv4Addr::new(172, 11, 105, 5),
            hex("3600 c174 56d8 c15a b8a6 63f4 8018 4510 0221 0000
                 0101 080a 2681 ea4b 045e 2200 00"),
        ),
    ]
}

#[test]
fn linux_segments_verify_and_re_emit_byte_exact() {
    for (i, (src, dst, seg)) in linux_captures().into_iter().enumerate() {
        let p = Packet::new_checked(&seg[..]).unwrap();
        assert!(p.verify_checksum(src, dst), "capture {i}");
        let r = Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap();
        let mut out = std::vec![0xa5u8; seg.len()];
        out[r.header_len()..].copy_from_slice(p.payload());
        r.emit(
            &mut Packet::new_unchecked(&mut out[..]),
            src,
            dst,
            ChecksumMode::Compute,
        );
        assert_eq!(out, seg, "capture {i}");
    }
}

#[test]
fn convenience_constructors_match_linux_bytes() {
    let caps = linux_captures();
    let syn = Repr::parse(
        &Packet::new_checked(&caps[0].2[..]).unwrap(),
        caps[0].0,
        caps[0].1,
        ChecksumCheck::Verify,
    )
    .unwrap();
    assert_eq!(syn.flags, Flags::SYN);
    assert_eq!(syn.seq, SeqNumber(2466954207));
    assert_eq!(syn.window, 14600);
    assert_eq!(
        syn.options,
        Options::syn(1460, Some(7), true, Some((949598155, 0)))
    );
    let ack = Repr::parse(
        &Packet::new_checked(&caps[1].2[..]).unwrap(),
        caps[1].0,
        caps[1].1,
        ChecksumCheck::Verify,
    )
    .unwrap();
    let blocks = ack.options.sack_blocks().unwrap();
    assert_eq!(ack.ack(), Some(SeqNumber(0x2d70_c7d0)));
    assert_eq!(
        ack.options,
        Options::ack(Some((102499447, 2645327253)), Some(blocks))
    );
    let fin = Repr::parse(
        &Packet::new_checked(&caps[2].2[..]).unwrap(),
        caps[2].0,
        caps[2].1,
        ChecksumCheck::Verify,
    )
    .unwrap();
    assert_eq!(fin.flags, Flags::FIN | Flags::ACK);
    assert_eq!(fin.segment_len(), 1);
    assert_eq!(
        fin.options,
        Options::ack(Some((102499447, 2645327253)), None)
    );
}

#[test]
fn syn_layouts_follow_linux() {
    let ts = Some((0x0102_0304, 0));
    let cases: [(Options, &str); 8] = [
        (
            Options::syn(1460, Some(7), true, ts),
            "0204 05b4 0402 080a 0102 0304 0000 0000 0103 0307",
        ),
        (
            Options::syn(1460, Some(7), false, ts),
            "0204 05b4 0101 080a 0102 0304 0000 0000 0103 0307",
        ),
        (
            Options::syn(1460, None, true, ts),
            "0204 05b4 0402 080a 0102 0304 0000 0000",
        ),
        (
            Options::syn(1460, Some(7), true, None),
            "0204 05b4 0101 0402 0103 0307",
        ),
        (
            Options::syn(1460, Some(0), false, None),
            "0204 05b4 0103 0300",
        ),
        (Options::syn(536, None, false, None), "0204 0218"),
        (Options::syn(1460, None, true, None), "0204 05b4 0101 0402"),
        (
            Options::syn(1460, None, false, ts),
            "0204 05b4 0101 080a 0102 0304 0000 0000",
        ),
    ];
    for (o, want) in cases {
        assert_eq!(o.as_bytes(), &hex(want)[..], "{want}");
        assert_eq!(Options::from_bytes(o.as_bytes()).unwrap(), o);
    }
    let o = cases[0].0;
    assert_eq!(
        (o.mss(), o.window_scale(), o.sack_permitted(), o.timestamp()),
        (Some(1460), Some(7), true, ts)
    );
}

#[test]
fn ack_form_truncates_sack_blocks_to_fit() {
    let four = SackBlocks::new(&[(1, 2), (3, 4), (5, 6), (7, 8)]).unwrap();
    let with_ts = Options::ack(Some((9, 10)), Some(four));
    assert_eq!(with_ts.len(), 40);
    assert_eq!(
        with_ts.sack_blocks().unwrap().as_slice(),
        &four.as_slice()[..3]
    );
    let without = Options::ack(None, Some(four));
    assert_eq!(without.len(), 36);
    assert_eq!(without.sack_blocks(), Some(four));
    assert_eq!(&without.as_bytes()[..4], &[1, 1, 5, 34]);
    assert_eq!(Options::ack(None, None), Options::EMPTY);
    assert!(SackBlocks::new(&[]).is_none());
    assert!(SackBlocks::new(&[(0, 0); 5]).is_none());
    let mut t = four;
    t.truncate(0);
    assert_eq!(t, SackBlocks::single(1, 2));
    assert!(!t.is_empty());
    assert_eq!(format!("{t:?}"), "[(1, 2)]");
}

#[test]
fn builder_pads_and_reports_overflow() {
    let eol = Options::builder()
        .mss(1460)
        .window_scale(7)
        .finish(Padding::Eol)
        .unwrap();
    assert_eq!(eol.as_bytes(), &hex("0204 05b4 0303 0700")[..]);
    let nop = Options::builder()
        .mss(1460)
        .window_scale(7)
        .finish(Padding::Nop)
        .unwrap();
    assert_eq!(nop.as_bytes(), &hex("0204 05b4 0303 0701")[..]);
    assert_eq!(nop.window_scale(), Some(7));
    let b = Options::builder().sack_permitted();
    assert_eq!((b.len(), b.is_empty()), (2, false));
    assert_eq!(
        Options::builder().finish(Padding::Eol).unwrap(),
        Options::EMPTY
    );
    let unknown = Options::builder()
        .push(TcpOption::Unknown {
            kind: 254,
            data: &[0xf9, 0x89],
        })
        .eol()
        .finish(Padding::Eol)
        .unwrap();
    assert_eq!(unknown.as_bytes(), &[254, 4, 0xf9, 0x89, 0, 0, 0, 0]);
    let four = SackBlocks::new(&[(1, 2), (3, 4), (5, 6), (7, 8)]).unwrap();
    assert_eq!(
        Options::builder()
            .timestamp(1, 2)
            .sack(four)
            .mss(1)
            .finish(Padding::Eol),
        Err(Error::BadHeaderLength {
            layer: Layer::Tcp,
            value: 64
        })
    );
    assert_eq!(
        Options::builder()
            .push(TcpOption::Unknown {
                kind: 1,
                data: &[1]
            })
            .finish(Padding::Nop),
        Err(malformed("option of kind 0 or 1 with a length"))
    );
}

#[test]
fn every_malformed_option_is_rejected() {
    let cases: [(&[u8], &str); 16] = [
        (&[2], "option length missing"),
        (&[1, 1, 8], "option length missing"),
        (&[2, 0, 0, 0], "option length below 2"),
        (&[254, 1, 0, 0], "option length below 2"),
        (&[8, 10, 0, 0], "option overruns the header"),
        (&[254, 5, 0, 0], "option overruns the header"),
        (&[2, 3, 5, 0], "MSS option length is not 4"),
        (&[2, 5, 5, 0, 0, 0, 0, 0], "MSS option length is not 4"),
        (&[3, 4, 7, 0], "window scale option length is not 3"),
        (&[3, 2, 0, 0], "window scale option length is not 3"),
        (&[4, 3, 0, 0], "SACK-permitted option length is not 2"),
        (
            &[5, 2, 0, 0],
            "SACK option length is not 2 + 8n with n in 1..=4",
        ),
        (
            &[5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "SACK option length is not 2 + 8n with n in 1..=4",
        ),
        (
            &[8, 8, 0, 0, 0, 0, 0, 0],
            "timestamp option length is not 10",
        ),
        (
            &[1, 1, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "timestamp option length is not 10",
        ),
        // Five SACK blocks would need 42 bytes: more than any header holds.
        (
            &[
                5, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            "option overruns the header",
        ),
    ];
    for (raw, what) in cases {
        assert_eq!(Options::from_bytes(raw), Err(malformed(what)), "{raw:?}");
        // The iterator stops after the error.
        let mut it = OptionsIter::new(raw);
        assert!(it.find(Result::is_err).is_some());
        assert!(it.next().is_none());
        // And a segment carrying it does not parse (short areas would change once
        // padded, so only whole words are tried).
        if raw.len() % 4 != 0 {
            continue;
        }
        let mut seg = std::vec![0u8; HEADER_LEN + raw.len().next_multiple_of(4)];
        seg[HEADER_LEN..HEADER_LEN + raw.len()].copy_from_slice(raw);
        seg[12] = ((seg.len() / 4) as u8) << 4;
        let p = Packet::new_checked(&seg[..]).unwrap();
        assert_eq!(
            Repr::parse(&p, SRC, DST, ChecksumCheck::Trust),
            Err(malformed(what))
        );
    }
    assert_eq!(
        Options::from_bytes(&[1; 41]),
        Err(Error::BadHeaderLength {
            layer: Layer::Tcp,
            value: 61
        })
    );
}

#[test]
fn unknown_options_are_skipped_and_eol_ends_the_walk() {
    // TFO cookie (34), experimental (254), then MSS, EOL, and junk after EOL.
    let raw = [34, 6, 1, 2, 3, 4, 254, 2, 2, 4, 5, 180, 0, 9, 9, 9];
    let o = Options::from_bytes(&raw).unwrap();
    let v: Vec<_> = o.iter().map(Result::unwrap).collect();
    assert_eq!(
        v,
        [
            TcpOption::Unknown {
                kind: 34,
                data: &[1, 2, 3, 4]
            },
            TcpOption::Unknown {
                kind: 254,
                data: &[]
            },
            TcpOption::MaxSegmentSize(1460),
            TcpOption::EndOfList,
        ]
    );
    assert_eq!(o.mss(), Some(1460));
    assert_eq!(o.as_bytes(), &raw);
    assert_eq!(v.iter().map(TcpOption::wire_len).sum::<usize>(), 13);
    assert_eq!(v[0].kind(), 34);
    // A short option area is padded with zeros.
    assert_eq!(
        Options::from_bytes(&[1, 1]).unwrap().as_bytes(),
        &[1, 1, 0, 0]
    );
    assert_eq!(
        format!("{:?}", Options::from_bytes(&[1, 0]).unwrap()),
        "[Ok(NoOperation), Ok(EndOfList)]"
    );
}

#[test]
fn header_checks_report_what_is_wrong() {
    let r = Repr {
        src_port: 80,
        dst_port: 40000,
        flags: Flags::ACK,
        options: Options::ack(Some((1, 2)), None),
        payload_len: 4,
        ..Repr::default()
    };
    let buf = emit(&r, b"data", ChecksumMode::Compute);
    assert_eq!(
        Packet::new_checked(&buf[..19]).unwrap_err(),
        Error::Truncated {
            layer: Layer::Tcp,
            need: 20,
            have: 19
        }
    );
    let mut small = buf.clone();
    small[12] = 0x40;
    assert_eq!(
        Packet::new_checked(&small[..]).unwrap_err(),
        Error::BadHeaderLength {
            layer: Layer::Tcp,
            value: 16
        }
    );
    let mut big = buf.clone();
    big[12] = 0xb0;
    assert_eq!(
        Packet::new_checked(&big[..]).unwrap_err(),
        Error::Truncated {
            layer: Layer::Tcp,
            need: 44,
            have: 36
        }
    );
    let mut bad = buf.clone();
    bad[35] ^= 1;
    let p = Packet::new_checked(&bad[..]).unwrap();
    assert!(!p.verify_checksum(SRC, DST));
    assert_eq!(
        Repr::parse(&p, SRC, DST, ChecksumCheck::Verify),
        Err(Error::BadChecksum { layer: Layer::Tcp })
    );
    assert!(Repr::parse(&p, SRC, DST, ChecksumCheck::Trust).is_ok());
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.payload(), b"data");
    assert_eq!(p.options().len(), 12);
    assert_eq!(p.segment_len(), 4);
}

#[test]
fn round_trip_on_a5_buffer_keeps_raw_fields() {
    // ACK clear but a non-zero ack field, reserved bits and NS set, URG with a pointer.
    let r = Repr {
        src_port: 0xbeef,
        dst_port: 443,
        seq: SeqNumber(0xffff_ffff),
        ack_number: SeqNumber(0x1234_5678),
        flags: Flags::SYN | Flags::URG | Flags::ECE | Flags::CWR | Flags::NS,
        reserved: 0b101,
        window: 0xfffe,
        urgent: 3,
        options: Options::syn(8960, Some(14), true, Some((1, 0))),
        payload_len: 5,
    };
    let buf = emit(&r, b"hello", ChecksumMode::Compute);
    assert_eq!(buf[12], 0xab);
    assert_eq!(buf[13], 0xe2);
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(
        (p.reserved(), p.flags(), p.ack_number(), p.urgent_at()),
        (0b101, r.flags, r.ack_number, 3)
    );
    let got = Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap();
    assert_eq!(got, r);
    assert_eq!(got.ack(), None);
    assert_eq!(got.segment_len(), 6);
    assert_eq!(emit(&got, b"hello", ChecksumMode::Compute), buf);
    let mut cleared = got;
    cleared.set_ack(None);
    assert_eq!(cleared.ack_number, SeqNumber(0));
}

#[test]
fn setters_keep_neighbouring_bits() {
    let mut buf = [0u8; 24];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_header_len(24);
    p.set_reserved(7);
    p.set_flags(Flags::NS | Flags::FIN);
    assert_eq!(
        (p.header_len(), p.reserved(), p.flags()),
        (24, 7, Flags::NS | Flags::FIN)
    );
    p.set_flags(Flags::ACK);
    p.set_header_len(20);
    assert_eq!(
        (p.header_len(), p.reserved(), p.flags()),
        (20, 7, Flags::ACK)
    );
    p.set_reserved(0);
    assert_eq!(p.into_inner()[12..14], [0x50, 0x10]);
    let mut p = Packet::new_checked(&mut buf[..]).unwrap();
    p.set_seq_number(SeqNumber(1));
    p.set_ack_number(SeqNumber(2));
    p.set_window_len(3);
    p.set_urgent_at(4);
    p.set_src_port(5);
    p.set_dst_port(6);
    p.payload_mut().copy_from_slice(&[7; 4]);
    assert!(p.options_mut().is_empty());
    p.fill_checksum(SRC, DST);
    assert!(p.verify_checksum(SRC, DST));
    assert_eq!(
        (
            p.seq_number(),
            p.window_len(),
            p.src_port(),
            p.dst_port(),
            p.checksum() != 0
        ),
        (SeqNumber(1), 3, 5, 6, true)
    );
}

#[test]
fn checksum_matches_etherparse() {
    for len in [0usize, 1, 2, 3, 536, 1447] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
        let r = Repr {
            src_port: 33000,
            dst_port: 5201,
            seq: SeqNumber(0x8000_0001),
            ack_number: SeqNumber(77),
            flags: Flags::ACK | Flags::PSH,
            window: 501,
            options: Options::ack(Some((11, 22)), Some(SackBlocks::single(5, 9))),
            payload_len: len,
            ..Repr::default()
        };
        let buf = emit(&r, &payload, ChecksumMode::Compute);
        let (h, rest) = etherparse::TcpHeader::from_slice(&buf).unwrap();
        assert_eq!(rest, &payload[..]);
        let want = h
            .calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), rest)
            .unwrap();
        assert_eq!(h.checksum, want, "len {len}");
    }
}

#[test]
fn offload_writes_the_pseudo_header_sum() {
    let r = Repr {
        src_port: 1,
        dst_port: 2,
        flags: Flags::SYN,
        options: Options::syn(1460, Some(7), true, Some((5, 0))),
        payload_len: 3,
        ..Repr::default()
    };
    let off = emit(&r, &[1, 2, 3], ChecksumMode::Offload);
    let len = r.buffer_len() as u16;
    assert_eq!(be16(&off, 16), checksum::pseudo_header(SRC, DST, 6, len));
    // The NIC completes it by summing the segment (field included) and complementing.
    let mut nic = off.clone();
    let c = !checksum::sum(&nic);
    nic[16..18].copy_from_slice(&c.to_be_bytes());
    assert_eq!(nic, emit(&r, &[1, 2, 3], ChecksumMode::Compute));
    // The view's own method agrees, and so does a buffer longer than the segment in emit.
    let mut view = off.clone();
    Packet::new_unchecked(&mut view[..]).fill_pseudo_checksum(SRC, DST);
    assert_eq!(view, off);
    let mut long = std::vec![0xa5u8; r.buffer_len() + 7];
    long[r.header_len()..r.buffer_len()].copy_from_slice(&[1, 2, 3]);
    r.emit(
        &mut Packet::new_unchecked(&mut long[..]),
        SRC,
        DST,
        ChecksumMode::Compute,
    );
    assert_eq!(&long[..r.buffer_len()], &nic[..]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn option() -> impl Strategy<Value = (u8, u32, u32)> {
        (0u8..7, any::<u32>(), any::<u32>())
    }

    proptest! {
        #[test]
        fn builder_output_walks_back_to_its_input(
            opts in proptest::collection::vec(option(), 0..8),
            nop_pad in any::<bool>(),
        ) {
            let mut b = Options::builder();
            let mut pushed = Vec::new();
            for (k, x, y) in opts {
                let o = match k {
                    0 => TcpOption::NoOperation,
                    1 => TcpOption::MaxSegmentSize(x as u16),
                    2 => TcpOption::WindowScale(x as u8),
                    3 => TcpOption::SackPermitted,
                    4 => TcpOption::Timestamp { tsval: x, tsecr: y },
                    5 => TcpOption::SackBlocks(
                        SackBlocks::new(&[(x, y), (y, x)][..1 + (x % 2) as usize]).unwrap(),
                    ),
                    _ => TcpOption::Unknown { kind: 200 + (x % 50) as u8, data: &[7, 7, 7] },
                };
                if b.len() + o.wire_len() <= MAX_OPTIONS_LEN {
                    b = b.push(o);
                    pushed.push(o);
                }
            }
            let pad = if nop_pad { Padding::Nop } else { Padding::Eol };
            let built = b.finish(pad).unwrap();
            prop_assert_eq!(built.len() % 4, 0);
            prop_assert_eq!(Options::from_bytes(built.as_bytes()).unwrap(), built);
            let walked: Vec<_> = built.iter().map(Result::unwrap).collect();
            prop_assert_eq!(&walked[..pushed.len()], &pushed[..]);
            for extra in &walked[pushed.len()..] {
                let want = if nop_pad { TcpOption::NoOperation } else { TcpOption::EndOfList };
                prop_assert_eq!(*extra, want);
            }
        }

        #[test]
        fn seq_order_is_antisymmetric(a in any::<u32>(), b in any::<u32>()) {
            let (a, b) = (SeqNumber(a), SeqNumber(b));
            prop_assert!(!(a < b && b < a));
            prop_assert_eq!(a < b, b > a);
            prop_assert_eq!(SeqNumber(a.0.wrapping_add((b - a) as u32)), b);
            prop_assert_eq!(a.partial_cmp(&b).is_none(), (b - a) == i32::MIN);
        }

        /// `from_bytes` skips the walk for the common 4-byte-aligned forms: its verdict must
        /// be the walk's for sequences of those forms, their near misses and random words.
        #[test]
        fn common_layouts_agree_with_the_walk(
            words in proptest::collection::vec((0u8..10, any::<[u8; 4]>()), 0..11),
        ) {
            let mut raw = Vec::new();
            for (k, r) in words {
                let w: &[u8] = match k {
                    0 => &[2, 4, r[0], r[1]],
                    1 => &[1, 1, 4, 2],
                    2 => &[1, 3, 3, r[0]],
                    3 => &[1, 1, 8, 10, r[0], r[1], r[2], r[3], 0, 0, 0, 9],
                    4 => &[4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8],
                    5 => &[1, 1, 5, 10, r[0], r[1], r[2], r[3], 0, 0, 0, 1],
                    // A length that claims more than follows, or a short SACK.
                    6 => &[1, 1, 5, r[0] % 40],
                    7 => &[1, 1, 8, r[0] % 12],
                    _ => &r,
                };
                raw.extend_from_slice(w);
            }
            let walk_ok = OptionsIter::new(&raw).all(|o| o.is_ok()) && raw.len() <= MAX_OPTIONS_LEN;
            let got = Options::from_bytes(&raw);
            prop_assert_eq!(got.is_ok(), walk_ok, "{:02x?}", raw);
            if let Ok(o) = got {
                prop_assert_eq!(&o.as_bytes()[..raw.len()], &raw[..]);
            }
        }

        #[test]
        fn random_option_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..44)) {
            if let Ok(o) = Options::from_bytes(&raw) {
                prop_assert!(o.iter().all(|x| x.is_ok()));
                let _ = (o.mss(), o.window_scale(), o.sack_permitted(), o.sack_blocks(), o.timestamp());
            }
        }
    }
}
