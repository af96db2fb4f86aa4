//! burst's side of the tshark check (`scripts/check-ipsec-tshark.sh`).
//!
//! `esp_pcap PCAP SA EXPECT` encrypts a few datagrams (UDP of several sizes, an ICMP echo, a
//! TCP SYN) with burst-ipsec for each transform tshark 4.0 can decrypt (AES-GCM-128/256,
//! AES-CBC-128/256 with HMAC-SHA-256-128, NULL with HMAC-SHA-256-128), in transport and tunnel
//! mode, and writes the Ethernet frames to PCAP, tshark's `esp_sa` table entries (one per SA)
//! to SA, and per frame what tshark must find to EXPECT: `ICV-good next-header pad-length
//! udp-payload-hex` (`-` for a datagram without UDP payload).

use std::io::Write;
use std::net::Ipv4Addr;

use burst_ipsec::esp::encrypt;
use burst_ipsec::{Algorithm, DfPolicy, Mode, PacketBuf, Sa, SaParams, Tunnel};
use burst_wire::ipv4::{self, Protocol};

const ROOM: usize = 128;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The inner datagrams' addresses (transport and tunnel alike).
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

fn datagram(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 20 + l4.len()];
    d[20..].copy_from_slice(l4);
    let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
    ip.set_version_and_header_len(20);
    ip.set_total_len((20 + l4.len()) as u16);
    ip.set_ident(0x4242);
    ip.set_ttl(64);
    ip.set_protocol(Protocol(proto));
    ip.set_src_addr(SRC);
    ip.set_dst_addr(DST);
    ip.fill_checksum();
    // UDP and ICMP checksums over their own bytes (UDP: with the pseudo-header).
    let (src, dst) = (SRC.octets(), DST.octets());
    let sum16 = |bytes: &[u8], init: u32| {
        let mut s = init;
        for c in bytes.chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    let l4 = &mut d[20..];
    match proto {
        17 => {
            let mut pseudo = 0u32;
            for c in src.chunks(2).chain(dst.chunks(2)) {
                pseudo += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
            pseudo += 17 + l4.len() as u32;
            let c = sum16(l4, pseudo);
            l4[6..8].copy_from_slice(&c.to_be_bytes());
        }
        1 => {
            let c = sum16(l4, 0);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    d
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8 + payload.len()];
    u[0..2].copy_from_slice(&5000u16.to_be_bytes());
    u[2..4].copy_from_slice(&9u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u[8..].copy_from_slice(payload);
    u
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, pcap, sa_out, expect_out] = &args[..] else {
        eprintln!("usage: esp_pcap PCAP SA EXPECT");
        std::process::exit(2);
    };
    let mut pcap = std::fs::File::create(pcap).expect("create PCAP");
    let mut sas = std::fs::File::create(sa_out).expect("create SA");
    let mut expect = std::fs::File::create(expect_out).expect("create EXPECT");
    // pcap global header: microseconds, version 2.4, snaplen 65535, Ethernet.
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    pcap.write_all(&h).unwrap();

    let algs = [
        (
            Algorithm::AesGcm128,
            "AES-GCM with 16 octet ICV [RFC4106]",
            "NULL",
        ),
        (
            Algorithm::AesGcm256,
            "AES-GCM with 16 octet ICV [RFC4106]",
            "NULL",
        ),
        (
            Algorithm::AesCbc128HmacSha256,
            "AES-CBC [RFC3602]",
            "HMAC-SHA-256-128 [RFC4868]",
        ),
        (
            Algorithm::AesCbc256HmacSha256,
            "AES-CBC [RFC3602]",
            "HMAC-SHA-256-128 [RFC4868]",
        ),
        (
            Algorithm::NullHmacSha256,
            "NULL",
            "HMAC-SHA-256-128 [RFC4868]",
        ),
    ];
    let payloads: Vec<Vec<u8>> = [0usize, 1, 13, 100, 1400]
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect();
    let mut icmp = vec![8u8, 0, 0, 0, 0, 7, 0, 1];
    icmp.extend_from_slice(b"burst-ipsec ping");
    let mut syn = vec![0u8; 20];
    syn[0..2].copy_from_slice(&40000u16.to_be_bytes());
    syn[2..4].copy_from_slice(&80u16.to_be_bytes());
    syn[12] = 5 << 4;
    syn[13] = 0x02;
    syn[14..16].copy_from_slice(&1024u16.to_be_bytes());
    let mut frames = 0u32;
    let mut spi = 0x2000u32;
    for (alg, enc_name, auth_name) in algs {
        for tunnel in [false, true] {
            spi += 1;
            let mode = if tunnel {
                Mode::Tunnel(Tunnel {
                    src: Ipv4Addr::new(198, 18, 200, 1),
                    dst: Ipv4Addr::new(198, 18, 200, 2),
                    ttl: 64,
                    df: DfPolicy::Copy,
                })
            } else {
                Mode::Transport
            };
            let key: Vec<u8> = (0..alg.key_len())
                .map(|i| (i as u8).wrapping_mul(7) ^ spi as u8)
                .collect();
            let auth: Vec<u8> = (0..alg.auth_key_len()).map(|i| i as u8 ^ 0xa5).collect();
            let p = SaParams {
                spi,
                protocol: burst_ipsec::IpsecProtocol::Esp,
                mode,
                algorithm: alg,
                key: key.clone(),
                auth_key: auth.clone(),
                esn: false,
                replay_window: 64,
                max_packets: 0,
            };
            let mut sa = Sa::new(&p).unwrap();
            writeln!(
                sas,
                "\"IPv4\",\"*\",\"*\",\"{spi:#010x}\",\"{enc_name}\",\"0x{}\",\"{auth_name}\",\"0x{}\"",
                hex(&key),
                hex(&auth)
            )
            .unwrap();
            let mut datagrams: Vec<(Vec<u8>, String)> = payloads
                .iter()
                .map(|pl| {
                    (
                        datagram(17, &udp(pl)),
                        if pl.is_empty() { "-".into() } else { hex(pl) },
                    )
                })
                .collect();
            datagrams.push((datagram(1, &icmp), "-".into()));
            datagrams.push((datagram(6, &syn), "-".into()));
            for (d, udp_payload) in datagrams {
                let mut buf = vec![0u8; ROOM + d.len() + ROOM];
                buf[ROOM..ROOM + d.len()].copy_from_slice(&d);
                let end = ROOM + d.len();
                let mut pkt = PacketBuf::new(&mut buf, ROOM, end);
                encrypt(&mut sa, &mut pkt).expect("encrypt");
                let e = pkt.packet();
                let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
                frame.extend_from_slice(e);
                frames += 1;
                let mut rec = Vec::new();
                rec.extend_from_slice(&frames.to_le_bytes());
                rec.extend_from_slice(&0u32.to_le_bytes());
                rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                pcap.write_all(&rec).unwrap();
                pcap.write_all(&frame).unwrap();
                let body = if tunnel { d.len() } else { d.len() - 20 };
                let align = alg.align();
                let pad = (align - (body + 2) % align) % align;
                let nh = if tunnel { 4 } else { d[9] };
                writeln!(expect, "1 {nh} {pad} {udp_payload}").unwrap();
            }
        }
    }
    eprintln!("esp_pcap: {frames} frames");
}
