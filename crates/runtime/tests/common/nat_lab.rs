//! The NAT and firewall lab shared by the router NAT tests (`router_nat.rs`, translation;
//! `router_firewall.rs`, the stateful firewall, ICMP errors and the session table): host A on the
//! inside (port a, 198.18.1.0/24), host B outside (port b, 198.18.2.0/24, and the network
//! 198.19.0.0/16 behind it), configured from TOML as `burst run` reads it, and the datagrams and
//! readings those tests use.
#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use burst_wire::icmpv4;
use burst_wire::ipv4::{self, Protocol};

use super::router_lab::*;

/// burst's own address on b: the masquerade pool.
pub const P: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);

/// A host behind B.
pub const C: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

/// The NAT lab's configuration: forwarding, a route to 198.19.0.0/16 via B, both neighbours,
/// masquerade on b to P.
pub const NAT: &str = "[ipv4]\nforwarding = true\n\
                   [[route]]\nprefix = \"198.19.0.0/16\"\nvia = \"198.18.2.1\"\n\
                   [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
                   [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
                   [nat]\noutside = [\"b\"]\npool = [\"198.18.2.254\"]\n";

/// The lab with [`NAT`] and `extra` TOML.
pub fn nat_lab(extra: &str) -> Lab {
    lab(Opts {
        file: Some(format!("{NAT}{extra}")),
        ..Opts::default()
    })
}

/// The lab without NAT: forwarding, both neighbours and `extra` TOML (a firewall).
pub fn fw_lab(extra: &str) -> Lab {
    lab(Opts {
        file: Some(format!(
            "[ipv4]\nforwarding = true\n\
             [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
             [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n{extra}"
        )),
        ..Opts::default()
    })
}

/// A TCP segment with `flags` (and an MSS option on SYNs), built by hand.
pub fn tcp_seg(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8) -> Vec<u8> {
    let opt = flags & 0x02 != 0;
    let tl = 20 + 20 + if opt { 4 } else { 0 };
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
    t[12] = (if opt { 6 } else { 5 }) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&1000u16.to_be_bytes());
    if opt {
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    }
    let ph = burst_wire::checksum::pseudo_header(src, dst, 6, (tl - 20) as u16);
    let c = !burst_wire::checksum::combine(&[ph, burst_wire::checksum::sum(&d[20..])]);
    d[36..38].copy_from_slice(&c.to_be_bytes());
    d
}

/// An ICMP echo request (or reply) with identifier `ident`.
pub fn echo(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, reply: bool) -> Vec<u8> {
    let m = if reply {
        icmpv4::Repr::EchoReply {
            ident,
            seq_no: 1,
            data: b"ping",
        }
    } else {
        icmpv4::Repr::EchoRequest {
            ident,
            seq_no: 1,
            data: b"ping",
        }
    };
    let mut d = vec![0u8; 20 + m.buffer_len()];
    burst_stack::icmp::emit(&m, src, dst, 64, false, &mut d);
    d
}

/// (src, sport, dst, dport, proto) of every datagram host `h` saw.
pub fn flows(l: &Lab, h: usize) -> Vec<(Ipv4Addr, u16, Ipv4Addr, u16, u8)> {
    l.ipv4_seen(h)
        .into_iter()
        .filter_map(|(_, _, d)| {
            let p = ipv4::Packet::new_checked(&d[..]).ok()?;
            let l4 = p.payload();
            let (s, t) = match p.protocol() {
                Protocol::UDP | Protocol::TCP => (
                    u16::from_be_bytes([l4[0], l4[1]]),
                    u16::from_be_bytes([l4[2], l4[3]]),
                ),
                Protocol::ICMP => (l4[0].into(), u16::from_be_bytes([l4[4], l4[5]])),
                _ => (0, 0),
            };
            Some((p.src_addr(), s, p.dst_addr(), t, p.protocol().0))
        })
        .collect()
}

/// Counter `name` summed over the workers.
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

/// Sends datagram `d` from host B to the router.
pub fn from_b(l: &mut Lab, d: &[u8]) {
    l.send(1, &frame(B_MAC, R_B, d));
}

/// Whether the IPv4 header checksum and the TCP/UDP checksum (with the pseudo-header) of
/// datagram `d` verify.
pub fn checksums_ok(d: &[u8]) -> bool {
    use burst_wire::checksum;
    let p = ipv4::Packet::new_checked(d).unwrap();
    let l4 = p.payload();
    let ph = checksum::pseudo_header(p.src_addr(), p.dst_addr(), d[9], l4.len() as u16);
    checksum::sum(&d[..20]) == 0xffff && checksum::combine(&[ph, checksum::sum(l4)]) == 0xffff
}

/// (state, packets) of every session, from `ctl conntrack`.
pub fn conntrack_states(l: &mut Lab) -> Vec<(String, u64)> {
    let rx = l.request(Request::Conntrack { flush: false });
    l.run_for(Nanos::from_millis(20));
    let Ok(Response::Conntrack { sessions, .. }) = rx.try_recv() else {
        panic!("no conntrack answer")
    };
    sessions.into_iter().map(|s| (s.state, s.packets)).collect()
}
