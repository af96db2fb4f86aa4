//! The IPsec peer of the router lab's IPsec tests: burst-ipsec's engine used directly as host
//! B's IPsec, the configurations burst runs with, and packet builders.
#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;

use crate::common::router_lab::*;
use burst_ipsec::{Algorithm, DfPolicy, DropReason, Mode, PacketBuf, Sa, SaParams, Tunnel};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::ChecksumMode;

/// burst's address on b.
pub const R_B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);
/// A host behind B.
pub const C: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 5);

pub const K_IN: &str = "000102030405060708090a0b0c0d0e0f10111213";
pub const K_OUT: &str = "202122232425262728292a2b2c2d2e2f30313233";

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Transport mode between B and burst's address on b: SPI 0x1001 in, 0x2001 out, AES-GCM-128.
pub fn transport(extra_policies: &str) -> String {
    format!(
        "[services]\necho = true\n\
         [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
         [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
         {}{extra_policies}{CATCH_ALL}",
        transport_sas()
    )
}

/// The policies that end every configuration here: the rest passes plain.
pub const CATCH_ALL: &str = "[[ipsec.policy]]\ndirection = \"in\"\naction = \"permit\"\n\
    [[ipsec.policy]]\ndirection = \"out\"\naction = \"permit\"\n";

/// [`transport`]'s SAs and `secure` policies alone.
pub fn transport_sas() -> String {
    format!(
        "[[ipsec.sa]]\nspi = 0x1001\ndirection = \"in\"\nalgorithm = \"aes-gcm-128\"\nkey = \"{K_IN}\"\n\
         [[ipsec.sa]]\nspi = 0x2001\ndirection = \"out\"\nalgorithm = \"aes-gcm-128\"\nkey = \"{K_OUT}\"\n\
         [[ipsec.policy]]\ndirection = \"in\"\nsrc = \"198.18.2.1/32\"\ndst = \"198.18.2.254/32\"\naction = \"secure\"\nsa = 0x1001\n\
         [[ipsec.policy]]\ndirection = \"out\"\nsrc = \"198.18.2.254/32\"\ndst = \"198.18.2.1/32\"\naction = \"secure\"\nsa = 0x2001\n"
    )
}

/// [`gcm_tunnel`] and [`transport`]'s SAs together (without the echo service).
pub fn tunnel_and_transport() -> String {
    gcm_tunnel().replace(CATCH_ALL, "") + &transport_sas() + CATCH_ALL
}

/// Tunnel mode between burst (198.18.2.254, for 198.18.1.0/24) and B (198.18.2.1, for
/// 198.19.0.0/16): SPI 0x1002 in, 0x2002 out, `alg` with `keys` (`key = ...` lines).
pub fn tunnel(alg: &str, keys_in: &str, keys_out: &str, sa_extra: &str) -> String {
    format!(
        "[ipv4]\nforwarding = true\n\
         [[route]]\nprefix = \"198.19.0.0/16\"\nvia = \"198.18.2.1\"\n\
         [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
         [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
         [[ipsec.sa]]\nspi = 0x1002\ndirection = \"in\"\nmode = \"tunnel\"\n\
         tunnel_src = \"198.18.2.1\"\ntunnel_dst = \"198.18.2.254\"\nalgorithm = \"{alg}\"\n{keys_in}\n\
         [[ipsec.sa]]\nspi = 0x2002\ndirection = \"out\"\nmode = \"tunnel\"\n\
         tunnel_src = \"198.18.2.254\"\ntunnel_dst = \"198.18.2.1\"\nalgorithm = \"{alg}\"\n{keys_out}\n{sa_extra}\n\
         [[ipsec.policy]]\ndirection = \"in\"\nsrc = \"198.19.0.0/16\"\ndst = \"198.18.1.0/24\"\naction = \"secure\"\nsa = 0x1002\n\
         [[ipsec.policy]]\ndirection = \"out\"\nsrc = \"198.18.1.0/24\"\ndst = \"198.19.0.0/16\"\naction = \"secure\"\nsa = 0x2002\n\
         {CATCH_ALL}"
    )
}

pub fn gcm_tunnel() -> String {
    tunnel(
        "aes-gcm-128",
        &format!("key = \"{K_IN}\""),
        &format!("key = \"{K_OUT}\""),
        "",
    )
}

pub fn ipsec_lab(file: String, workers: usize) -> Lab {
    ipsec_lab_with(file, workers, false)
}

/// [`ipsec_lab`], with the router's ports verifying received checksums as a NIC does when
/// `rx_checksums`.
pub fn ipsec_lab_with(file: String, workers: usize, rx_checksums: bool) -> Lab {
    let mut l = lab(Opts {
        file: Some(file),
        tweak: if workers == 2 {
            |c| c.workers = 2
        } else {
            |_| {}
        },
        rss: workers == 2,
        rx_checksums,
        ..Opts::default()
    });
    l.verify = false; // ESP payloads are opaque to the frame checker.
    l
}

/// The peer's half of an SA.
pub fn sa(
    spi: u32,
    alg: Algorithm,
    key: &[u8],
    auth: &[u8],
    tunnel: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Sa {
    Sa::new(&SaParams {
        spi,
        protocol: burst_ipsec::IpsecProtocol::Esp,
        mode: match tunnel {
            None => Mode::Transport,
            Some((src, dst)) => Mode::Tunnel(Tunnel {
                src,
                dst,
                ttl: 64,
                df: DfPolicy::Copy,
            }),
        },
        algorithm: alg,
        key: key.to_vec(),
        auth_key: auth.to_vec(),
        esn: false,
        replay_window: 64,
        max_packets: 0,
    })
    .unwrap()
}

/// B's SAs for [`transport`]: (to burst, from burst).
pub fn transport_peer() -> (Sa, Sa) {
    (
        sa(0x1001, Algorithm::AesGcm128, &hex(K_IN), &[], None),
        sa(0x2001, Algorithm::AesGcm128, &hex(K_OUT), &[], None),
    )
}

/// B's SAs for [`gcm_tunnel`]: (to burst, from burst).
pub fn tunnel_peer() -> (Sa, Sa) {
    (
        sa(
            0x1002,
            Algorithm::AesGcm128,
            &hex(K_IN),
            &[],
            Some((B, R_B_IP)),
        ),
        sa(
            0x2002,
            Algorithm::AesGcm128,
            &hex(K_OUT),
            &[],
            Some((R_B_IP, B)),
        ),
    )
}

pub fn seal(sa: &mut Sa, d: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 128 + d.len() + 64];
    b[128..128 + d.len()].copy_from_slice(d);
    let mut pb = PacketBuf::new(&mut b, 128, 128 + d.len());
    sa.protect(&mut pb).unwrap();
    pb.packet().to_vec()
}

pub fn open(sa: &mut Sa, d: &[u8]) -> Result<Vec<u8>, DropReason> {
    let mut b = d.to_vec();
    let n = b.len();
    let mut pb = PacketBuf::new(&mut b, 0, n);
    sa.unprotect(&mut pb)?;
    Ok(pb.packet().to_vec())
}

pub fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    echo(8, src, dst, seq)
}

/// An ICMP echo (`ty` 8) or echo reply (0).
pub fn echo(ty: u8, src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    m.extend_from_slice(b"burst ipsec ping");
    let c = !burst_wire::checksum::sum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let ip = ipv4::Repr::new(src, dst, Protocol::ICMP, m.len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    d[20..].copy_from_slice(&m);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

pub fn from_b(l: &mut Lab, d: &[u8]) {
    l.send(1, &frame(B_MAC, R_B, d));
}

pub fn counter(l: &Lab, name: &str) -> u64 {
    l.node
        .workers
        .iter()
        .map(|w| {
            w.shared_stats()
                .snapshot()
                .into_iter()
                .find(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("no counter {name}"))
                .1
        })
        .sum()
}

/// The datagrams host `h` received (seen since the last call), by protocol.
pub fn take(l: &mut Lab, h: usize) -> Vec<Vec<u8>> {
    let d = l.ipv4_seen(h).into_iter().map(|(_, _, d)| d).collect();
    l.seen[h].clear();
    d
}

pub fn proto(d: &[u8]) -> u8 {
    d[9]
}

pub fn spi_seq(d: &[u8]) -> (u32, u32) {
    let e = &d[20..];
    (
        u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
        u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
    )
}

/// A TCP SYN with an MSS option of 1460.
pub fn tcp_syn(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let tl = 20 + 24;
    let mut d = vec![0u8; tl];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
    d[8] = 64;
    d[9] = 6;
    d[12..16].copy_from_slice(&src.octets());
    d[16..20].copy_from_slice(&dst.octets());
    let c = !burst_wire::checksum::sum(&d[..20]);
    d[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut d[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = 6 << 4;
    t[13] = 0x02;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    let ph = burst_wire::checksum::pseudo_header(src, dst, 6, 24);
    let c = !burst_wire::checksum::combine(&[ph, burst_wire::checksum::sum(&d[20..])]);
    d[36..38].copy_from_slice(&c.to_be_bytes());
    d
}
