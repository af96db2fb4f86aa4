//! ESP known-answer tests (draft-mcgrew-gcm-test-01 for RFC 4106, RFC 7634 Appendix A), the
//! outer header of tunnel mode, and every drop reason produced and counted.

use std::net::Ipv4Addr;

use burst_wire::ipv4::{self, Protocol};

use super::*;
use crate::algo::{Algorithm, Cipher};
use crate::sa::{SaParams, Tunnel};
use crate::sad::Sad;
use crate::stats::DropReason;
use crate::testutil::hex;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 2);
const ROOM: usize = 64;

/// An IPv4 datagram with a valid checksum.
fn datagram(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 20 + payload.len()];
    d[20..].copy_from_slice(payload);
    let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
    ip.set_version_and_header_len(20);
    ip.set_total_len((20 + payload.len()) as u16);
    ip.set_ident(0x1234);
    ip.set_ttl(64);
    ip.set_protocol(Protocol(proto));
    ip.set_src_addr(src);
    ip.set_dst_addr(dst);
    ip.fill_checksum();
    d
}

/// `d` in a buffer with `head` bytes before and `tail` after (filled with 0xa5).
fn in_buffer(d: &[u8], head: usize, tail: usize) -> Vec<u8> {
    let mut b = vec![0xa5u8; head + d.len() + tail];
    b[head..head + d.len()].copy_from_slice(d);
    b
}

fn params(alg: Algorithm, key: Vec<u8>, spi: u32, esn: bool, mode: Mode) -> SaParams {
    SaParams {
        spi,
        protocol: crate::sa::IpsecProtocol::Esp,
        mode,
        algorithm: alg,
        key,
        auth_key: vec![0x5c; alg.auth_key_len()],
        esn,
        replay_window: 64,
        max_packets: 0,
    }
}

fn tunnel() -> Mode {
    Mode::Tunnel(Tunnel {
        src: A,
        dst: B,
        ttl: 32,
        df: DfPolicy::Copy,
    })
}

/// One ESP test case of draft-mcgrew-gcm-test-01 §4 (the AES-128 and AES-256 ones).
struct GcmCase {
    key: &'static str,
    spi: u32,
    seq: &'static str,
    nonce: &'static str,
    plaintext: &'static str,
    packet: &'static str,
}

const GCM_CASES: &[GcmCase] = &[
    GcmCase {
        key: "4c80cdefbb5d10da906ac73c3613a634",
        spi: 0x4321,
        seq: "8765432100000000",
        nonce: "2e443b684956ed7e3b244cfe",
        plaintext: "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000
                    00000000045f736970045f7564700373697009637962657263697479
                    02646b000021000101020201",
        packet: "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b76
                 8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d
                 15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72
                 2fd04796562dfdb4",
    },
    GcmCase {
        key: "feffe9928665731c6d6a8f9467308308",
        spi: 0xa5f8,
        seq: "0000000a",
        nonce: "cafebabefacedbaddecaf888",
        plaintext: "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100
                    0001000000000000037369700963796265726369747902646b00000100010001",
        packet: "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304
                 a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642
                 cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    GcmCase {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        spi: 0x4a2c_bfe3,
        seq: "00000002",
        nonce: "112233440102030405060708",
        plaintext: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000
                    7002400020bf0000020405b40101040201020201",
        packet: "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d
                 6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d
                 ef842d8eb335f4eecfdbf831824b4c4915956c96",
    },
    GcmCase {
        key: "3de09874b388e6491988d0c3607eae1f",
        spi: 0x42f6_7e3f,
        seq: "1010101010101010",
        nonce: "57690e434e280000a2fca1a3",
        plaintext: "4500003c99c300008001cb7c40679318010101010800085c0200430061626364
                    65666768696a6b6c6d6e6f70717273747576776162636465666768690102020
                    1",
        packet: "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0
                 fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9
                 1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48",
    },
    GcmCase {
        key: "3de09874b388e6491988d0c3607eae1f",
        spi: 0x42f6_7e3f,
        seq: "1010101010101010",
        nonce: "57690e434e280000a2fca1a3",
        plaintext: "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
        packet: "42f67e3f101010104e280000a2fca1a3fba2ca845e5df9f0f22c3e6e86dd831e
                 1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35",
    },
    GcmCase {
        key: "abbccddef00112233445566778899aab",
        spi: 0x100,
        seq: "0000000000000001",
        nonce: "decaf888cafedebaceface74",
        plaintext: "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5
                    00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95
                    9b6266c04722b14923010101",
        packet: "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814
                 e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472
                 b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6
                 5f354f75ff17015769623436",
    },
    GcmCase {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        spi: 0x1740_5e67,
        seq: "156f3126dd0db99b",
        nonce: "73616c74616e640169766563",
        plaintext: "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602
                    50101f646d540001",
        packet: "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d
                 1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3
                 b7eebca614c89b35",
    },
    GcmCase {
        key: "3de09874b388e6491988d0c3607eae1f",
        spi: 0x42f6_7e3f,
        seq: "1010101010101010",
        nonce: "57690e434e280000a2fca1a3",
        plaintext: "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b
                    000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32
                    5ae270c03899493915010101",
        packet: "42f67e3f101010104e280000a2fca1a3fba2cad12fc1f9f00d3cebf305410db8
                 3d7784b607323d220f24b0a97d54182800cadb0f68d99ef0e0c0c89ae9bea888
                 4e52d65bc1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5
                 769189609763b8e18caa81e2",
    },
    GcmCase {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        spi: 0x1740_5e67,
        seq: "156f3126dd0db99b",
        nonce: "73616c74616e640169766563",
        plaintext: "636973636f0172756c657301746865016e6574776501646566696e6501746865
                    746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f
                    72726f7701020201",
        packet: "17405e67dd0db99b616e640169766563d4b7ed86a1777f2ea13d6973d324c69e
                 7b43f826fb56831226508bebd2dceb18d0a6df10e5487df074113e14c641024e
                 3e6773d91a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b
                 11e24f30e44ccc76",
    },
    GcmCase {
        key: "7d773d00c144c525ac619d18c84a3f47",
        spi: 0x3354_67ae,
        seq: "ffffffff",
        nonce: "d966426743457e9182443bc6",
        plaintext: "01020201",
        packet: "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c45
                 04bef270",
    },
    GcmCase {
        key: "abbccddef00112233445566778899aab",
        spi: 0x100,
        seq: "0000000000000001",
        nonce: "decaf888cafedebaceface74",
        plaintext: "746f016265016f72016e6f7401746f0162650001",
        packet: "0000010000000001cafedebaceface7429c9fc69a197d038ccdd14e2ddfcaa05
                 43332164412503524303ed3c6c5f283843af8c3e",
    },
    GcmCase {
        key: "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
        spi: 0x796b_6963,
        seq: "ffffffffffffffff",
        nonce: "7475726e333021696765746d",
        plaintext: "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364
                    65666768696a6b6c6d6e6f707172737401020201",
        packet: "796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25d
                 d24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe82
                 1dcc63b9d0937ba2945f669368661a329fb4c053",
    },
];

/// The 64-bit sequence number of a case, and whether it uses ESN (an 8-byte number).
fn case_seq(c: &GcmCase) -> (u64, bool) {
    let b = hex(c.seq);
    let mut v = 0u64;
    for x in &b {
        v = v << 8 | u64::from(*x);
    }
    (v, b.len() == 8)
}

/// draft-mcgrew-gcm-test-01 §4: each vector's ESP packet is what burst's transport-mode
/// encryption produces from the vector's payload (its trailer: burst pads the same way), and
/// burst's decryption recovers the payload and next header from it.
#[test]
fn rfc4106_gcm_esp_vectors_transport_mode() {
    for (n, c) in GCM_CASES.iter().enumerate() {
        let key = hex(c.key);
        let nonce = hex(c.nonce);
        let plain = hex(c.plaintext);
        let want = hex(c.packet);
        let (seq, esn) = case_seq(c);
        let alg = if key.len() == 16 {
            Algorithm::AesGcm128
        } else {
            Algorithm::AesGcm256
        };
        let mut material = key.clone();
        material.extend_from_slice(&nonce[..4]);
        let p = params(alg, material, c.spi, esn, Mode::Transport);
        // The vector's payload is its plaintext less the trailer.
        let nh = plain[plain.len() - 1];
        let pad = usize::from(plain[plain.len() - 2]);
        let payload = &plain[..plain.len() - 2 - pad];
        let d = datagram(A, B, nh, payload);
        let mut buf = in_buffer(&d, ROOM, ROOM);
        let mut out = Sa::new(&p).unwrap();
        out.set_last_seq_out(seq - 1);
        let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
        let e = encrypt_with(&mut out, &mut pkt, Some(&nonce[4..])).unwrap();
        assert_eq!(e, Encrypted { spi: c.spi, seq }, "case {n}");
        let sent = pkt.packet().to_vec();
        assert_eq!(sent[20..], want[..], "case {n}: ESP bytes");
        let ip = ipv4::Packet::new_checked(&sent[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.protocol(), Protocol::ESP);
        assert_eq!(usize::from(ip.total_len()), 20 + want.len());
        assert_eq!(out.stats.out_packets, 1);

        let mut inb = Sa::new(&p).unwrap();
        // Put the receiver's window where the ESN inference finds the vector's high half.
        inb.replay_mut().restart_at(seq - 1);
        let mut buf = in_buffer(&sent, 0, 0);
        let len = buf.len();
        let mut pkt = PacketBuf::new(&mut buf, 0, len);
        let got = decrypt(&mut inb, &mut pkt).unwrap();
        assert_eq!(
            got,
            Decrypted {
                spi: c.spi,
                seq,
                next_header: nh,
                tunnel: false
            },
            "case {n}"
        );
        assert_eq!(pkt.packet(), &d[..], "case {n}: plain datagram back");
        assert_eq!(inb.stats.in_packets, 1);
        assert_eq!(inb.replay().top(), seq);
    }
}

/// The same vectors through the transform alone, including the one with SPI 0 (reserved, so
/// no SA can have it) and an AES-192 one left out (not supported).
#[test]
fn rfc4106_gcm_vector_with_spi_zero_through_the_cipher() {
    let key = hex("00000000000000000000000000000000 00000000");
    let c = Cipher::new(Algorithm::AesGcm128, &key, &[]).unwrap();
    let plain = hex(
        "4500003c99c500008001cb7a40679318010101010800075c0200440061626364
         65666768696a6b6c6d6e6f7071727374757677616263646566676869 01020201",
    );
    let want = hex(
        "00000000000000010000000000000000 4688daf2f973a392732909c331d56d60
         f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb64de7d9dca1e1d894
         bc3bd57873ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d",
    );
    let mut esp = hex("0000000000000001");
    let mut iv = [0u8; 8];
    c.write_iv(0, 0, &mut iv);
    esp.extend_from_slice(&iv);
    esp.extend_from_slice(&plain);
    esp.extend_from_slice(&[0; 16]);
    c.seal(&mut esp, None);
    assert_eq!(esp, want);
    c.open(&mut esp, None).unwrap();
    assert_eq!(esp[16..16 + plain.len()], plain[..]);
}

/// RFC 7634 Appendix A: the ESP example (tunnel mode, an ICMP echo inside), ChaCha20-Poly1305
/// with SPI 0x01020304, sequence number 5, IV 10..17.
#[test]
fn rfc7634_chacha20_poly1305_esp_example_tunnel_mode() {
    let inner = hex(
        "45 00 00 54 a6 f2 00 00 40 01 e7 78 c6 33 64 05 c0 00 02 05 08 00 5b 7a 3a 08 00 00
         55 3b ec 10 00 07 36 27 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b
         1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37",
    );
    assert_eq!(inner.len(), 0x54);
    let key = hex(
        "80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b
         9c 9d 9e 9f a0 a1 a2 a3",
    );
    let want_text_icv = hex(
        "24 03 94 28 b9 7f 41 7e 3c 13 75 3a 4f 05 08 7b 67 c3 52 e6 a7 fa b1 b9 82 d4 66 ef
         40 7a e5 c6 14 ee 80 99 d5 28 44 eb 61 aa 95 df ab 4c 02 f7 2a a7 1e 7c 4c 4f 64 c9
         be fe 2f ac c6 38 e8 f3 cb ec 16 3f ac 46 9b 50 27 73 f6 fb 94 e6 64 da 91 65 b8 28
         29 f6 41 e0 76 aa a8 26 6b 7f b0 f7 b1 1b 36 99 07 e1 ad 43",
    );
    let iv = hex("10 11 12 13 14 15 16 17");
    let p = params(
        Algorithm::ChaCha20Poly1305,
        key,
        0x0102_0304,
        false,
        tunnel(),
    );
    let mut out = Sa::new(&p).unwrap();
    out.set_last_seq_out(4);
    let mut buf = in_buffer(&inner, ROOM, ROOM);
    let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + inner.len());
    assert_eq!(encrypt_with(&mut out, &mut pkt, Some(&iv)).unwrap().seq, 5);
    let sent = pkt.packet().to_vec();
    // Outer header, then SPI, sequence number, IV, ciphertext and tag as in the RFC; the
    // trailer inside was 01 02 (padding), 02 (pad length), 04 (IPv4).
    assert_eq!(sent[20..28], hex("01020304 00000005")[..]);
    assert_eq!(sent[28..36], iv[..]);
    assert_eq!(sent[36..], want_text_icv[..]);

    let mut inb = Sa::new(&p).unwrap();
    let mut buf = sent.clone();
    let len = buf.len();
    let mut pkt = PacketBuf::new(&mut buf, 0, len);
    let got = decrypt(&mut inb, &mut pkt).unwrap();
    assert_eq!((got.seq, got.next_header, got.tunnel), (5, 4, true));
    assert_eq!(pkt.packet(), &inner[..]);
}

#[test]
fn tunnel_outer_header_follows_the_sa() {
    for (df_policy, inner_df, want_df) in [
        (DfPolicy::Copy, true, true),
        (DfPolicy::Copy, false, false),
        (DfPolicy::Set, false, true),
        (DfPolicy::Clear, true, false),
    ] {
        let mode = Mode::Tunnel(Tunnel {
            src: A,
            dst: B,
            ttl: 17,
            df: df_policy,
        });
        let alg = Algorithm::AesGcm256;
        let mut sa = Sa::new(&params(alg, vec![1; alg.key_len()], 0x777, false, mode)).unwrap();
        sa.set_last_seq_out(0x1_0002);
        let mut d = datagram(
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 19, 0, 1),
            17,
            &[9; 30],
        );
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
            ip.set_dscp_ecn(46, 1);
            ip.set_flags_and_offset(inner_df, false, 0);
            ip.fill_checksum();
        }
        let mut buf = in_buffer(&d, ROOM, ROOM);
        let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
        encrypt(&mut sa, &mut pkt).unwrap();
        assert_eq!(pkt.packet().len(), sa.protected_len(d.len(), 20));
        let ip = ipv4::Packet::new_checked(pkt.packet()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr(), ip.ttl()), (A, B, 17));
        assert_eq!((ip.dscp(), ip.ecn()), (46, 1));
        assert_eq!(ip.dont_frag(), want_df);
        assert_eq!((ip.more_frags(), ip.frag_offset()), (false, 0));
        assert_eq!(ip.ident(), 3, "low 16 bits of sequence number 0x10003");
        assert_eq!(ip.protocol(), Protocol::ESP);
        assert_eq!(ip.header_len(), 20);
    }
}

/// The outer header's checksum, from the SA's template and the packet's own fields, is the
/// one a sum over the whole header gives: every TOS, lengths and identifications that carry
/// in the sum, each DF.
#[test]
fn tunnel_outer_checksum_from_the_template_is_the_full_sum() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for df_policy in [DfPolicy::Copy, DfPolicy::Set, DfPolicy::Clear] {
        let mode = Mode::Tunnel(Tunnel {
            src: Ipv4Addr::new(198, 19, 255, 254),
            dst: Ipv4Addr::new(198, 18, 255, 255),
            ttl: 255,
            df: df_policy,
        });
        let alg = Algorithm::AesGcm128;
        let mut sa = Sa::new(&params(alg, vec![1; alg.key_len()], 0x777, false, mode)).unwrap();
        for i in 0..2000u32 {
            let r = next();
            sa.set_last_seq_out(u64::from(i) * 0x1_0001 + (r & 0xffff));
            let len = 1 + (r >> 16) as usize % 1500;
            let tos = (r >> 32) as u8;
            let mut d = datagram(
                Ipv4Addr::new(198, 18, 0, 1),
                Ipv4Addr::new(198, 19, 0, 1),
                17,
                &vec![7; len],
            );
            {
                let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
                ip.set_dscp_ecn(tos >> 2, tos & 3);
                ip.set_flags_and_offset(r >> 40 & 1 == 1, false, 0);
                ip.fill_checksum();
            }
            let mut buf = in_buffer(&d, ROOM, ROOM);
            let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
            encrypt(&mut sa, &mut pkt).unwrap();
            let ip = ipv4::Packet::new_checked(pkt.packet()).unwrap();
            assert!(
                ip.verify_checksum(),
                "tos {tos:#x}, len {len}, {df_policy:?}"
            );
            assert_eq!((ip.dscp() << 2 | ip.ecn(), ip.ttl()), (tos, 255));
            assert_eq!(usize::from(ip.total_len()), pkt.packet().len());
        }
    }
}

#[test]
fn transport_mode_keeps_ip_options() {
    let alg = Algorithm::AesCbc256HmacSha256;
    let p = params(alg, vec![2; alg.key_len()], 0x999, true, Mode::Transport);
    let (mut out, mut inb) = (Sa::new(&p).unwrap(), Sa::new(&p).unwrap());
    // A 24-byte header: router alert option (RFC 2113).
    let mut d = vec![0u8; 24 + 10];
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
        ip.set_version_and_header_len(24);
        ip.set_total_len(34);
        ip.set_ttl(1);
        ip.set_protocol(Protocol::UDP);
        ip.set_src_addr(A);
        ip.set_dst_addr(B);
    }
    d[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]);
    d[24..].copy_from_slice(b"0123456789");
    ipv4::Packet::new_unchecked(&mut d[..]).fill_checksum();
    let mut buf = in_buffer(&d, ROOM, ROOM);
    let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
    encrypt(&mut out, &mut pkt).unwrap();
    let sent = pkt.packet().to_vec();
    assert_eq!(sent[20..24], [0x94, 0x04, 0, 0]);
    assert_eq!(sent.len(), out.protected_len(d.len(), 24));
    let mut buf = sent;
    let len = buf.len();
    let mut pkt = PacketBuf::new(&mut buf, 0, len);
    decrypt(&mut inb, &mut pkt).unwrap();
    assert_eq!(pkt.packet(), &d[..]);
}

/// An ESP datagram for `sa`'s keys with a plaintext of our choosing (payload and trailer),
/// sealed with the right key: authentic, so it reaches the checks after the ICV.
fn forge(alg: Algorithm, key: &[u8], auth: &[u8], spi: u32, seq: u32, text: &[u8]) -> Vec<u8> {
    let c = Cipher::new(alg, key, auth).unwrap();
    let mut esp = Vec::new();
    esp.extend_from_slice(&spi.to_be_bytes());
    esp.extend_from_slice(&seq.to_be_bytes());
    let mut iv = vec![0u8; alg.iv_len()];
    c.write_iv(spi, u64::from(seq), &mut iv);
    esp.extend_from_slice(&iv);
    esp.extend_from_slice(text);
    esp.extend_from_slice(&[0; 16]);
    c.seal(&mut esp, None);
    datagram(B, A, 50, &esp)
}

/// Runs `pkt` through `sad` and returns the reason it was dropped.
fn drop_in(sad: &mut Sad, d: &[u8]) -> DropReason {
    let mut buf = d.to_vec();
    let len = buf.len();
    let mut pkt = PacketBuf::new(&mut buf, 0, len);
    sad.decrypt(&mut pkt).unwrap_err()
}

#[test]
fn every_inbound_drop_reason_is_produced_and_counted() {
    let alg = Algorithm::AesCbc128HmacSha256;
    let key = vec![0x11; alg.key_len()];
    let auth = vec![0x5c; alg.auth_key_len()];
    let mut sad = Sad::new();
    sad.insert_inbound(Sa::new(&params(alg, key.clone(), 0x1000, false, Mode::Transport)).unwrap());
    sad.insert_inbound(Sa::new(&params(alg, key.clone(), 0x2000, false, tunnel())).unwrap());
    let mut sender = Sa::new(&params(alg, key.clone(), 0x1000, false, Mode::Transport)).unwrap();
    let good = {
        let d = datagram(B, A, 17, b"hello, world");
        let mut buf = in_buffer(&d, ROOM, ROOM);
        let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
        encrypt(&mut sender, &mut pkt).unwrap();
        pkt.packet().to_vec()
    };

    // Before an SA is known: counted in the SAD's own counters.
    assert_eq!(
        drop_in(&mut sad, &datagram(B, A, 17, &[0; 8])),
        DropReason::Malformed
    );
    assert_eq!(
        drop_in(&mut sad, &datagram(B, A, 50, &[0, 0, 0x10])),
        DropReason::TooShort
    );
    let mut other = good.clone();
    other[20..24].copy_from_slice(&0x3000u32.to_be_bytes());
    assert_eq!(drop_in(&mut sad, &other), DropReason::UnknownSpi);
    for r in [
        DropReason::Malformed,
        DropReason::TooShort,
        DropReason::UnknownSpi,
    ] {
        assert_eq!(sad.stats.drops(r), 1, "{}", r.name());
    }

    // Shorter than header + IV + ICV + 2.
    let short = datagram(B, A, 50, &good[20..20 + 8 + 16 + 16]);
    assert_eq!(drop_in(&mut sad, &short), DropReason::TooShort);
    // Ciphertext not whole AES blocks.
    let mut cut = good[20..].to_vec();
    cut.drain(24..28);
    assert_eq!(
        drop_in(&mut sad, &datagram(B, A, 50, &cut)),
        DropReason::BadLength
    );
    // A flipped ICV byte, then a flipped ciphertext byte.
    let mut bad_icv = good.clone();
    *bad_icv.last_mut().unwrap() ^= 0x80;
    assert_eq!(drop_in(&mut sad, &bad_icv), DropReason::Icv);
    let mut bad_text = good.clone();
    bad_text[20 + 8 + 16] ^= 1;
    assert_eq!(drop_in(&mut sad, &bad_text), DropReason::Icv);
    // The genuine packet passes once, then is a replay.
    let mut buf = good.clone();
    let len = buf.len();
    let mut pkt = PacketBuf::new(&mut buf, 0, len);
    assert_eq!(sad.decrypt(&mut pkt).unwrap().seq, 1);
    assert_eq!(drop_in(&mut sad, &good), DropReason::Replay);

    // Authentic packets with a bad trailer. 16-byte texts: payload, padding, pl, nh.
    let mut text = [0u8; 16];
    text[15] = 17;
    text[14] = 15; // pad length 15 + 2 > 16
    let f = forge(alg, &key, &auth, 0x1000, 2, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::BadPadding);
    let mut text = [0u8; 16];
    text[15] = 17;
    text[14] = 3;
    text[11..14].copy_from_slice(&[1, 2, 4]); // not 1, 2, 3
    let f = forge(alg, &key, &auth, 0x1000, 3, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::BadPadding);
    let mut text = [0u8; 16];
    text[15] = 59; // no next header: a dummy packet
    text[14] = 0;
    let f = forge(alg, &key, &auth, 0x1000, 4, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::Dummy);
    let mut text = [0u8; 16];
    text[15] = 4; // IPv4 inside a transport SA
    let f = forge(alg, &key, &auth, 0x1000, 5, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::BadNextHeader);
    let mut text = [0u8; 16];
    text[15] = 17; // UDP straight inside a tunnel SA
    let f = forge(alg, &key, &auth, 0x2000, 1, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::BadNextHeader);
    let mut text = [0u8; 32];
    text[31] = 4;
    text[30] = 0;
    text[0] = 0x46; // IHL 6 but total length 0: not a datagram
    let f = forge(alg, &key, &auth, 0x2000, 2, &text);
    assert_eq!(drop_in(&mut sad, &f), DropReason::BadInner);

    let transport = sad.inbound(0x1000).unwrap();
    for (r, n) in [
        (DropReason::TooShort, 1),
        (DropReason::BadLength, 1),
        (DropReason::Icv, 2),
        (DropReason::Replay, 1),
        (DropReason::BadPadding, 2),
        (DropReason::Dummy, 1),
        (DropReason::BadNextHeader, 1),
    ] {
        assert_eq!(transport.stats.drops(r), n, "{}", r.name());
    }
    assert_eq!(transport.stats.total_drops(), 9);
    assert_eq!(transport.stats.in_packets, 1);
    let tun = sad.inbound(0x2000).unwrap();
    assert_eq!(tun.stats.drops(DropReason::BadNextHeader), 1);
    assert_eq!(tun.stats.drops(DropReason::BadInner), 1);
    assert_eq!(tun.stats.in_packets, 0);
}

#[test]
fn a_forged_packet_does_not_move_the_window() {
    // RFC 4303 §3.4.3: a packet far ahead whose ICV fails must not shift the window, or an
    // attacker could make every genuine packet "too old".
    let alg = Algorithm::AesGcm128;
    let p = params(alg, vec![3; alg.key_len()], 0x1000, true, Mode::Transport);
    let (mut out, mut inb) = (Sa::new(&p).unwrap(), Sa::new(&p).unwrap());
    let d = datagram(A, B, 17, &[7; 40]);
    let mut sent = Vec::new();
    for _ in 0..2 {
        let mut buf = in_buffer(&d, ROOM, ROOM);
        let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
        encrypt(&mut out, &mut pkt).unwrap();
        sent.push(pkt.packet().to_vec());
    }
    let mut forged = sent[1].clone();
    forged[24..28].copy_from_slice(&1_000_000u32.to_be_bytes());
    let mut buf = forged;
    let len = buf.len();
    assert_eq!(
        decrypt(&mut inb, &mut PacketBuf::new(&mut buf, 0, len)),
        Err(DropReason::Icv)
    );
    assert_eq!(inb.replay().top(), 0);
    // Out of order, both genuine packets still pass.
    for s in [1, 0] {
        let mut buf = sent[s].clone();
        let len = buf.len();
        assert!(decrypt(&mut inb, &mut PacketBuf::new(&mut buf, 0, len)).is_ok());
    }
}

#[test]
fn every_outbound_drop_reason_is_produced_and_counted() {
    let alg = Algorithm::AesGcm128;
    let p = params(alg, vec![4; alg.key_len()], 0x1000, false, Mode::Transport);
    let mut sa = Sa::new(&p).unwrap();
    let d = datagram(A, B, 17, &[1; 100]);
    let try_enc = |sa: &mut Sa, d: &[u8], head: usize, tail: usize| {
        let mut buf = in_buffer(d, head, tail);
        let before = buf.clone();
        let mut pkt = PacketBuf::new(&mut buf, head, head + d.len());
        let r = encrypt(sa, &mut pkt);
        if r.is_err() {
            // A refused packet is left as it was.
            assert_eq!((pkt.start(), pkt.end()), (head, head + d.len()));
            assert_eq!(buf, before);
        }
        r
    };
    assert_eq!(
        try_enc(&mut sa, &[0x45, 0, 0], ROOM, ROOM),
        Err(DropReason::BadPlain)
    );
    let mut frag = d.clone();
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut frag[..]);
        ip.set_flags_and_offset(false, true, 0);
        ip.fill_checksum();
    }
    assert_eq!(
        try_enc(&mut sa, &frag, ROOM, ROOM),
        Err(DropReason::Fragment)
    );
    assert_eq!(try_enc(&mut sa, &d, 15, ROOM), Err(DropReason::NoRoom));
    // 100 + 2 → pad 2, then 16 bytes of ICV: 20 bytes of tailroom needed.
    assert_eq!(try_enc(&mut sa, &d, ROOM, 19), Err(DropReason::NoRoom));
    assert!(try_enc(&mut sa, &d, 16, 20).is_ok());
    let big = datagram(A, B, 17, &vec![0; 65_535 - 20 - 30]);
    assert_eq!(try_enc(&mut sa, &big, ROOM, ROOM), Err(DropReason::TooBig));
    sa.set_last_seq_out(u64::from(u32::MAX));
    assert_eq!(
        try_enc(&mut sa, &d, ROOM, ROOM),
        Err(DropReason::SeqExhausted)
    );
    for r in [
        DropReason::BadPlain,
        DropReason::Fragment,
        DropReason::TooBig,
        DropReason::SeqExhausted,
    ] {
        assert_eq!(sa.stats.drops(r), 1, "{}", r.name());
    }
    assert_eq!(sa.stats.drops(DropReason::NoRoom), 2);
    assert_eq!(sa.stats.out_packets, 1);
    // A fragment is fine in tunnel mode: the whole fragment goes inside.
    let mut t = Sa::new(&params(
        alg,
        vec![4; alg.key_len()],
        0x1001,
        false,
        tunnel(),
    ))
    .unwrap();
    assert!(try_enc(&mut t, &frag, ROOM, ROOM).is_ok());
    // An outbound SPI the SAD does not have.
    let mut sad = Sad::new();
    let mut buf = in_buffer(&d, ROOM, ROOM);
    let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
    assert_eq!(sad.encrypt(0x1000, &mut pkt), Err(DropReason::UnknownSpi));
    assert_eq!(sad.stats.drops(DropReason::UnknownSpi), 1);
}

#[test]
fn ethernet_padding_after_the_datagram_is_not_protected() {
    let alg = Algorithm::ChaCha20Poly1305;
    let p = params(alg, vec![5; alg.key_len()], 0x1000, false, Mode::Transport);
    let (mut out, mut inb) = (Sa::new(&p).unwrap(), Sa::new(&p).unwrap());
    let d = datagram(A, B, 6, &[1; 6]);
    let mut padded = d.clone();
    padded.extend_from_slice(&[0; 20]);
    let mut buf = in_buffer(&padded, ROOM, ROOM);
    let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + padded.len());
    encrypt(&mut out, &mut pkt).unwrap();
    assert_eq!(pkt.packet().len(), out.protected_len(d.len(), 20));
    let mut sent = pkt.packet().to_vec();
    sent.extend_from_slice(&[0; 7]);
    let len = sent.len();
    let mut pkt = PacketBuf::new(&mut sent, 0, len);
    decrypt(&mut inb, &mut pkt).unwrap();
    assert_eq!(pkt.packet(), &d[..]);
}

/// Seals a small datagram with a fresh outbound SA `spi` under `key` (sequence number 1).
fn sealed(alg: Algorithm, key: &[u8], spi: u32) -> Vec<u8> {
    let mut sender = Sa::new(&params(alg, key.to_vec(), spi, false, Mode::Transport)).unwrap();
    let d = datagram(B, A, 17, b"front entry");
    let mut buf = in_buffer(&d, ROOM, ROOM);
    let mut pkt = PacketBuf::new(&mut buf, ROOM, ROOM + d.len());
    encrypt(&mut sender, &mut pkt).unwrap();
    pkt.packet().to_vec()
}

/// Decrypts `d` with `sad`: the SPI it was opened with, or the drop.
fn open_in(sad: &mut Sad, d: &[u8]) -> Result<u32, DropReason> {
    let mut buf = d.to_vec();
    let len = buf.len();
    let mut pkt = PacketBuf::new(&mut buf, 0, len);
    sad.decrypt(&mut pkt).map(|x| x.spi)
}

#[test]
fn the_last_spi_in_front_of_the_map_follows_removal_and_slot_reuse() {
    let alg = Algorithm::AesGcm128;
    let (k1, k2) = (vec![0x11; alg.key_len()], vec![0x22; alg.key_len()]);
    let mut sad = Sad::new();
    let sa = |spi, k: &Vec<u8>| Sa::new(&params(alg, k.clone(), spi, false, Mode::Transport));
    sad.insert_inbound(sa(0x1000, &k1).unwrap());
    sad.insert_inbound(sa(0x2000, &k2).unwrap());
    // Alternating SPIs: each found with its own key, in front or not.
    assert_eq!(open_in(&mut sad, &sealed(alg, &k1, 0x1000)), Ok(0x1000));
    assert_eq!(open_in(&mut sad, &sealed(alg, &k2, 0x2000)), Ok(0x2000));
    assert_eq!(
        open_in(&mut sad, &sealed(alg, &k1, 0x1000)),
        Err(DropReason::Replay)
    );
    // The SA in front removed: its SPI is unknown at once, and its slot, reused by another
    // SPI with another key, is not reached by the old SPI.
    assert!(sad.remove_inbound(0x1000).is_some());
    assert_eq!(
        open_in(&mut sad, &sealed(alg, &k1, 0x1000)),
        Err(DropReason::UnknownSpi)
    );
    sad.insert_inbound(sa(0x3000, &k2).unwrap());
    assert_eq!(sad.inbound_sas().count(), 2);
    assert_eq!(
        open_in(&mut sad, &sealed(alg, &k1, 0x1000)),
        Err(DropReason::UnknownSpi)
    );
    assert_eq!(open_in(&mut sad, &sealed(alg, &k2, 0x3000)), Ok(0x3000));
    // Replacing the SA behind the SPI in front: the new one (new key, new window) is used.
    let old = sad.insert_inbound(sa(0x3000, &k1).unwrap());
    assert_eq!(old.map(|s| s.spi()), Some(0x3000));
    assert_eq!(open_in(&mut sad, &sealed(alg, &k1, 0x3000)), Ok(0x3000));
    assert_eq!(sad.inbound(0x2000).map(Sa::spi), Some(0x2000));
}
