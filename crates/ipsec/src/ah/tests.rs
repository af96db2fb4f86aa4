//! AH known answers from scapy's `SecurityAssociation(AH, auth_algo='SHA2-256-128')` (the
//! independent oracle; `scripts/ipsec_ah_kat.py` prints these constants with Debian's
//! python3-scapy 2.5), round trips, mutable fields, IP options and every drop reason.

use std::net::Ipv4Addr;

use burst_wire::ipv4::{self, Protocol};

use super::*;
use crate::sa::{IpsecProtocol, SaParams, Tunnel};
use crate::sad::Sad;
use crate::testutil::hex;

// scripts/ipsec_ah_kat.py: key bytes 0x40..0x60.
const PLAIN_ICMP: &str = "45b80031123440003d0199bcc6120201c61202fe0800cf02000700016275727374206168206b6e6f776e20616e73776572";
const AH_TRANSPORT_SEQ1: &str = "45b8004d123440003d33996ec6120201c61202fe0105000000003001000000011feea37cd3e1911ff0b6395d37430e410800cf02000700016275727374206168206b6e6f776e20616e73776572";
const AH_TRANSPORT_ESN_5_9: &str = "45b8004d123440003d33996ec6120201c61202fe010500000000300100000009650ecf7b4222fc2823acbb85c5f07a240800cf02000700016275727374206168206b6e6f776e20616e73776572";
const PLAIN_UDP: &str = "45000022007700004011ed28c6120101c613000513880007000e16c774756e6e656c";
const AH_TUNNEL_SEQ3: &str = "45000052000300004033e952c61202fec612020104050000000030020000000337827f767c46cd9449a0cd6cf63edca345000022007700004011ed28c6120101c613000513880007000e16c774756e6e656c";
const PLAIN_OPTIONS: &str = "4800002f0099000009116a2ec6120201c61202fe94040000070704c6120201009c400007000f0c1c6f7074696f6e73";
const AH_OPTIONS_SEQ2: &str = "4800004b00990000093369f0c6120201c61202fe94040000070704c61202010011050000000030010000000215fa60add6beeb8ec40ad77ea3eb9aa79c400007000f0c1c6f7074696f6e73";

const ROOM: usize = 64;

fn key() -> Vec<u8> {
    (0x40..0x60).collect()
}

fn tunnel() -> Mode {
    Mode::Tunnel(Tunnel {
        src: Ipv4Addr::new(198, 18, 2, 254),
        dst: Ipv4Addr::new(198, 18, 2, 1),
        ttl: 64,
        df: DfPolicy::Copy,
    })
}

fn ah_sa(spi: u32, mode: Mode, esn: bool) -> Sa {
    Sa::new(&SaParams {
        spi,
        protocol: IpsecProtocol::Ah,
        mode,
        algorithm: crate::Algorithm::NullHmacSha256,
        key: vec![],
        auth_key: key(),
        esn,
        replay_window: 64,
        max_packets: 0,
    })
    .unwrap()
}

/// Seals `d` with `sa`, the next sequence number being `seq`.
fn seal(sa: &mut Sa, seq: u64, d: &[u8]) -> Vec<u8> {
    sa.set_last_seq_out(seq - 1);
    let mut b = vec![0xa5; ROOM + d.len() + ROOM];
    b[ROOM..ROOM + d.len()].copy_from_slice(d);
    let mut p = PacketBuf::new(&mut b, ROOM, ROOM + d.len());
    let e = sa.protect(&mut p).unwrap();
    assert_eq!(e.seq, seq);
    p.packet().to_vec()
}

fn open(sa: &mut Sa, d: &[u8]) -> Result<Vec<u8>, DropReason> {
    let mut b = vec![0xa5; ROOM + d.len() + ROOM];
    b[ROOM..ROOM + d.len()].copy_from_slice(d);
    let mut p = PacketBuf::new(&mut b, ROOM, ROOM + d.len());
    sa.unprotect(&mut p).map(|_| p.packet().to_vec())
}

/// Rewrites the header checksum after a change to `d`'s header.
fn rechecksum(d: &mut [u8]) {
    ipv4::Packet::new_unchecked(&mut d[..]).fill_checksum();
}

#[test]
fn transport_mode_matches_scapy_byte_for_byte() {
    let mut out = ah_sa(0x3001, Mode::Transport, false);
    assert_eq!(seal(&mut out, 1, &hex(PLAIN_ICMP)), hex(AH_TRANSPORT_SEQ1));
    let mut inb = ah_sa(0x3001, Mode::Transport, false);
    assert_eq!(
        open(&mut inb, &hex(AH_TRANSPORT_SEQ1)).unwrap(),
        hex(PLAIN_ICMP)
    );
    assert_eq!(inb.stats.in_packets, 1);
}

#[test]
fn esn_high_bits_are_appended_to_the_icv_input_as_scapy_does() {
    // RFC 4302 §2.5.1: the high 32 bits are not sent but covered by the ICV.
    let seq = (5u64 << 32) | 9;
    let mut out = ah_sa(0x3001, Mode::Transport, true);
    assert_eq!(
        seal(&mut out, seq, &hex(PLAIN_ICMP)),
        hex(AH_TRANSPORT_ESN_5_9)
    );
    let mut inb = ah_sa(0x3001, Mode::Transport, true);
    inb.replay_mut().restart_at(5 << 32);
    assert_eq!(
        open(&mut inb, &hex(AH_TRANSPORT_ESN_5_9)).unwrap(),
        hex(PLAIN_ICMP)
    );
    // Without ESN the same bytes do not verify (the high half is missing from the ICV).
    let mut no_esn = ah_sa(0x3001, Mode::Transport, false);
    assert_eq!(
        open(&mut no_esn, &hex(AH_TRANSPORT_ESN_5_9)),
        Err(DropReason::Icv)
    );
}

#[test]
fn tunnel_mode_matches_scapy_byte_for_byte() {
    let mut out = ah_sa(0x3002, tunnel(), false);
    assert_eq!(seal(&mut out, 3, &hex(PLAIN_UDP)), hex(AH_TUNNEL_SEQ3));
    let mut inb = ah_sa(0x3002, tunnel(), false);
    assert_eq!(
        open(&mut inb, &hex(AH_TUNNEL_SEQ3)).unwrap(),
        hex(PLAIN_UDP)
    );
}

#[test]
fn options_immutable_kept_mutable_zeroed_as_scapy_does() {
    // Router alert (immutable, covered) and record route (mutable, zeroed).
    let mut out = ah_sa(0x3001, Mode::Transport, false);
    assert_eq!(seal(&mut out, 2, &hex(PLAIN_OPTIONS)), hex(AH_OPTIONS_SEQ2));
    let good = hex(AH_OPTIONS_SEQ2);
    // A router on the way records its address: still authentic.
    let mut rr = good.clone();
    rr[26] = 8;
    rr[27..31].copy_from_slice(&[198, 18, 9, 9]);
    rechecksum(&mut rr);
    let mut inb = ah_sa(0x3001, Mode::Transport, false);
    let plain = open(&mut inb, &rr).unwrap();
    assert_eq!(&plain[32..], &hex(PLAIN_OPTIONS)[32..]);
    // The router alert's value changed: not authentic.
    let mut ra = good.clone();
    ra[23] = 1;
    rechecksum(&mut ra);
    let mut inb = ah_sa(0x3001, Mode::Transport, false);
    assert_eq!(open(&mut inb, &ra), Err(DropReason::Icv));
}

#[test]
fn mutable_fields_may_change_in_flight_immutable_ones_not() {
    let mut out = ah_sa(0x3001, Mode::Transport, false);
    let good = seal(&mut out, 1, &hex(PLAIN_ICMP));
    let mut hop = good.clone();
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut hop[..]);
        ip.set_ttl(3); // routers decrement it
        ip.set_dscp_ecn(0, 3); // and may remark DSCP, set CE
        ip.set_flags_and_offset(false, false, 0); // or clear DF
        ip.fill_checksum();
    }
    let mut inb = ah_sa(0x3001, Mode::Transport, false);
    let plain = open(&mut inb, &hop).unwrap();
    let p = ipv4::Packet::new_checked(&plain[..]).unwrap();
    assert_eq!((p.ttl(), p.protocol()), (3, Protocol::ICMP));
    assert!(p.verify_checksum());
    // Immutable: source address, identification, a payload byte, the next header.
    for at in [12usize, 4, 60, 20] {
        let mut bad = good.clone();
        bad[at] ^= 1;
        rechecksum(&mut bad);
        let mut inb = ah_sa(0x3001, Mode::Transport, false);
        assert_eq!(open(&mut inb, &bad), Err(DropReason::Icv), "byte {at}");
    }
}

#[test]
fn round_trips_every_mode_with_and_without_esn() {
    for (mode, esn) in [
        (Mode::Transport, false),
        (Mode::Transport, true),
        (tunnel(), false),
        (tunnel(), true),
    ] {
        let mut out = ah_sa(0x3003, mode, esn);
        let mut inb = ah_sa(0x3003, mode, esn);
        for (n, d) in [hex(PLAIN_ICMP), hex(PLAIN_UDP), hex(PLAIN_OPTIONS)]
            .iter()
            .enumerate()
        {
            let seq = if esn {
                (1 << 32) + n as u64 + 1
            } else {
                n as u64 + 1
            };
            if esn && n == 0 {
                inb.replay_mut().restart_at(1 << 32);
            }
            let sealed = seal(&mut out, seq, d);
            let p = ipv4::Packet::new_checked(&sealed[..]).unwrap();
            assert!(p.verify_checksum());
            assert_eq!(p.protocol(), Protocol::AH);
            assert_eq!(
                sealed.len(),
                out.protected_len(d.len(), (d[0] as usize & 0xf) * 4)
            );
            assert_eq!(
                open(&mut inb, &sealed).unwrap(),
                *d,
                "{mode:?} esn {esn} #{n}"
            );
        }
    }
}

#[test]
fn every_ah_drop_is_named_and_counted() {
    let mut sad = Sad::new();
    sad.insert_inbound(ah_sa(0x3001, Mode::Transport, false));
    sad.insert_inbound(ah_sa(0x3002, tunnel(), false));
    let drop = |sad: &mut Sad, d: &[u8]| {
        let mut b = vec![0u8; ROOM + d.len()];
        b[ROOM..].copy_from_slice(d);
        let len = b.len();
        sad.decrypt(&mut PacketBuf::new(&mut b, ROOM, len))
            .unwrap_err()
    };
    let good = hex(AH_TRANSPORT_SEQ1);
    // A flipped ICV byte.
    let mut bad = good.clone();
    bad[40] ^= 0x80;
    assert_eq!(drop(&mut sad, &bad), DropReason::Icv);
    // The genuine packet once, then again: a replay.
    let mut b = good.clone();
    let len = b.len();
    assert!(sad.decrypt(&mut PacketBuf::new(&mut b, 0, len)).is_ok());
    assert_eq!(drop(&mut sad, &good), DropReason::Replay);
    // An unknown SPI; an AH header claiming a 12-byte ICV.
    let mut other = good.clone();
    other[27] = 0x99;
    assert_eq!(drop(&mut sad, &other), DropReason::UnknownSpi);
    let mut short_icv = good.clone();
    short_icv[21] = 4;
    assert_eq!(drop(&mut sad, &short_icv), DropReason::BadLength);
    // Authentic, but the next header is wrong for the mode.
    let mut out = ah_sa(0x3001, Mode::Transport, false);
    let mut ipip = hex(PLAIN_UDP);
    ipip.splice(0..0, hex(PLAIN_UDP)[..20].iter().copied());
    {
        let len = ipip.len() as u16;
        let mut ip = ipv4::Packet::new_unchecked(&mut ipip[..]);
        ip.set_protocol(Protocol(4));
        ip.set_total_len(len);
        ip.fill_checksum();
    }
    assert_eq!(
        drop(&mut sad, &seal(&mut out, 2, &ipip)),
        DropReason::BadNextHeader
    );
    let mut out_tunnel_as_transport = ah_sa(0x3002, Mode::Transport, false);
    assert_eq!(
        drop(
            &mut sad,
            &seal(&mut out_tunnel_as_transport, 1, &hex(PLAIN_UDP))
        ),
        DropReason::BadNextHeader
    );
    // A loose source route option: refused both ways.
    let mut lsrr = hex(PLAIN_OPTIONS);
    lsrr[20] = 131;
    rechecksum(&mut lsrr);
    let mut out = ah_sa(0x3001, Mode::Transport, false);
    let mut b = vec![0u8; ROOM + lsrr.len()];
    b[ROOM..].copy_from_slice(&lsrr);
    let len = b.len();
    assert_eq!(
        out.protect(&mut PacketBuf::new(&mut b, ROOM, len)),
        Err(DropReason::AhSourceRoute)
    );
    assert_eq!(&b[ROOM..], &lsrr[..], "a refused packet is left as it was");
    let mut with_lsrr = hex(AH_OPTIONS_SEQ2);
    with_lsrr[20] = 131;
    with_lsrr[32 + 11] = 7; // sequence number 7: not a replay
    rechecksum(&mut with_lsrr);
    assert_eq!(drop(&mut sad, &with_lsrr), DropReason::AhSourceRoute);
    assert_eq!(sad.stats.drops(DropReason::UnknownSpi), 1);
    let t = sad.inbound(0x3001).unwrap();
    for (r, n) in [
        (DropReason::Icv, 1),
        (DropReason::Replay, 1),
        (DropReason::BadLength, 1),
        (DropReason::BadNextHeader, 1),
        (DropReason::AhSourceRoute, 1),
    ] {
        assert_eq!(t.stats.drops(r), n, "{}", r.name());
    }
    assert_eq!(t.stats.in_packets, 1);
    assert_eq!(
        sad.inbound(0x3002)
            .unwrap()
            .stats
            .drops(DropReason::BadNextHeader),
        1
    );
    assert_eq!(out.stats.drops(DropReason::AhSourceRoute), 1);
}

#[test]
fn an_esp_spi_does_not_open_ah_and_vice_versa() {
    let mut sad = Sad::new();
    sad.insert_inbound(
        Sa::new(&SaParams {
            spi: 0x3001,
            protocol: IpsecProtocol::Esp,
            mode: Mode::Transport,
            algorithm: crate::Algorithm::NullHmacSha256,
            key: vec![],
            auth_key: key(),
            esn: false,
            replay_window: 64,
            max_packets: 0,
        })
        .unwrap(),
    );
    let mut b = hex(AH_TRANSPORT_SEQ1);
    let len = b.len();
    assert_eq!(
        sad.decrypt(&mut PacketBuf::new(&mut b, 0, len)),
        Err(DropReason::UnknownSpi)
    );
}

#[test]
fn ah_keys_are_checked() {
    let p = |auth_key: Vec<u8>, key: Vec<u8>| SaParams {
        spi: 0x3001,
        protocol: IpsecProtocol::Ah,
        mode: Mode::Transport,
        algorithm: crate::Algorithm::NullHmacSha256,
        key,
        auth_key,
        esn: false,
        replay_window: 64,
        max_packets: 0,
    };
    assert!(matches!(
        Sa::new(&p(vec![1; 31], vec![])),
        Err(crate::sa::SaError::AhKey(31))
    ));
    assert!(Sa::new(&p(vec![1; 32], vec![1; 16])).is_err());
    let sa = Sa::new(&p(vec![1; 32], vec![])).unwrap();
    assert_eq!(
        (
            sa.protocol(),
            sa.algorithm_name(),
            sa.headroom(),
            sa.max_tailroom()
        ),
        (IpsecProtocol::Ah, "hmac-sha256-128", 28, 0)
    );
    assert!(!format!("{sa:?}").contains("1, 1, 1"));
}
