//! Whole-node fuzzing on the in-memory wire: arbitrary bytes decoded into a bounded script of
//! actions against a node stepped on a virtual clock, then invariants checked. Shared by the
//! cargo-fuzz targets `node_host` and `node_router` (`fuzz/`) and by `tests/node_fuzz.rs`,
//! which runs the seed scripts and seeded random inputs in plain `cargo test`.
//!
//! The input's first byte picks the node's configuration (workers, pool size, filtering, TSO,
//! ...). The rest is a sequence of actions, each an opcode byte and its arguments; a missing
//! byte reads as 0, and choice 0 is always the ordinary case, so short inputs describe ordinary
//! traffic and the fuzzer's mutations move away from it. Frames are built structurally (ARP,
//! IPv4 with options and fragments, UDP to services and closed ports, TCP segments whose
//! sequence and acknowledgment numbers follow what the node sent, ICMP errors quoting the
//! node's own datagrams, IGMP), or taken raw; the clock advances; ctl requests change filters,
//! routes and neighbours; the node's own sockets connect, send, read and close.
//!
//! After the script: the node's own sockets are closed, every timer is given time to expire
//! (virtual minutes) and the node is checked idle: no buffer may be out of the pool, the
//! counters must balance (each frame received ends in exactly one outcome, below), no TCP
//! connection may be left in a state that should have timed out. Then the node is dropped and
//! the pool must be whole again.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::{Buffers, Node, NodeConfig, NodePort, NodeRoute, NodeTcp};
use burst_stack::filter::{Direction, Rule};
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_stack::udp::{Filtering, Service, SocketId};
use burst_stack::PortId;
use burst_tcp::stack::services::ServiceConfig;
use burst_tcp::{KeepAlive, ListenerHandle, SocketHandle, StackConfig, State};
use burst_wire::checksum;
use burst_wire::ethernet::{self, EtherType, MacAddr};

/// Most actions one input runs.
const MAX_ACTIONS: usize = 96;
/// Most virtual time the actions may advance the clock by (the final phase comes on top).
const MAX_SCRIPT_TIME: Nanos = Nanos::from_secs(600);
/// How long the node is left alone at the end: longer than every timer that holds a buffer or
/// a transient TCP state (reassembly 60 s, ARP resolution 7 s, TIME-WAIT 30 s, FIN-WAIT-2 20 s,
/// three data retransmissions with RTOs of at most 8 s, SYN retries, keep-alive).
const FINAL_PHASE: Nanos = Nanos::from_secs(200);
/// Most rounds one settle takes at one instant (a node with a busy service never idles).
const SETTLE_ROUNDS: usize = 48;
/// Most TCP handles and tracked peer connections.
const MAX_HANDLES: usize = 16;

const NODE_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const PEER_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const R_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 1);
const R_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 1);
const A_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 2);
const B_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 2);
const NODE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const R_A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 254);
const R_B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);
const A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

/// Opcodes of the script (the byte is taken modulo their number).
pub mod op {
    pub const RAW: u8 = 0;
    pub const ARP: u8 = 1;
    pub const IP: u8 = 2;
    pub const UDP: u8 = 3;
    pub const TCP: u8 = 4;
    pub const ICMP: u8 = 5;
    pub const ICMP_ERROR: u8 = 6;
    pub const IGMP: u8 = 7;
    pub const ADVANCE: u8 = 8;
    pub const CTL: u8 = 9;
    pub const APP: u8 = 10;
    pub const PEER: u8 = 11;
    pub const COUNT: u8 = 12;
}

/// The fuzz input, read front to back; past its end every byte reads as 0.
pub struct Input<'a> {
    d: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(d: &'a [u8]) -> Input<'a> {
        Input { d, at: 0 }
    }

    pub fn done(&self) -> bool {
        self.at >= self.d.len()
    }

    pub fn u8(&mut self) -> u8 {
        let v = self.d.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// One of `xs`, the first for a 0 byte.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::from(self.u8()) % xs.len()]
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let start = self.at.min(self.d.len());
        let end = (start + n).min(self.d.len());
        self.at += n;
        self.d[start..end].to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// Frame building
// ---------------------------------------------------------------------------------------------

fn eth(dst: MacAddr, src: MacAddr, ethertype: EtherType, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + body.len()];
    ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    f[ethernet::HEADER_LEN..].copy_from_slice(body);
    f
}

/// An L4 checksum as the input asks: right, zero, wrong, or partial (the pseudo-header sum
/// alone, as a kernel peer with checksum offload leaves it).
fn l4_checksum(inp: &mut Input<'_>, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, seg: &[u8]) -> u16 {
    let pseudo = checksum::pseudo_header(src, dst, proto, seg.len() as u16);
    let good = !checksum::combine(&[pseudo, checksum::sum(seg)]);
    match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3]) {
        0 => {
            // UDP sends 0 as all ones (RFC 768).
            if good == 0 && proto == 17 {
                0xffff
            } else {
                good
            }
        }
        1 => 0,
        2 => good ^ 0x1234,
        _ => pseudo,
    }
}

/// IPv4 options for a header: none, a standard one, or raw bytes (padded to 4).
fn ip_options(inp: &mut Input<'_>) -> Vec<u8> {
    let mut o = match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]) {
        0 => Vec::new(),
        // Router alert.
        1 => vec![148, 4, 0, 0],
        // Record route, room for 3 addresses.
        2 => vec![7, 15, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        // Timestamp, addresses and times.
        3 => vec![68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // Loose source route through 198.18.0.1.
        4 => vec![131, 7, 4, 198, 18, 0, 1, 0],
        // Strict source route.
        5 => vec![137, 7, 4, 198, 18, 0, 1, 0],
        // NOPs and an end.
        6 => vec![1, 1, 1, 0],
        _ => {
            let n = usize::from(inp.u8() % 41);
            inp.bytes(n)
        }
    };
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0);
    }
    o
}

/// The header fields of a datagram the peers send.
struct IpHdr {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    tos: u8,
    ident: u16,
    df: bool,
    options: Vec<u8>,
}

impl IpHdr {
    fn plain(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> IpHdr {
        IpHdr {
            src,
            dst,
            proto,
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            df: false,
            options: Vec::new(),
        }
    }

    /// TTL, TOS, identification, DF and options from the input.
    fn fuzz(inp: &mut Input<'_>, src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> IpHdr {
        IpHdr {
            src,
            dst,
            proto,
            ttl: inp.pick(&[64, 1, 2, 0, 255, 128]),
            tos: inp.pick(&[0, 0x10, 0x03]),
            ident: inp.u16(),
            df: inp.bool(),
            options: ip_options(inp),
        }
    }

    /// One datagram (or fragment): header with `options`, offset in bytes, MF.
    fn emit(&self, options: &[u8], payload: &[u8], offset: usize, more: bool) -> Vec<u8> {
        let hl = 20 + options.len();
        let mut d = vec![0u8; hl + payload.len()];
        d[0] = 0x40 | (hl / 4) as u8;
        d[1] = self.tos;
        let tl = (hl + payload.len()).min(usize::from(u16::MAX)) as u16;
        d[2..4].copy_from_slice(&tl.to_be_bytes());
        d[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let flags =
            (u16::from(self.df) << 14) | (u16::from(more) << 13) | ((offset / 8) as u16 & 0x1fff);
        d[6..8].copy_from_slice(&flags.to_be_bytes());
        d[8] = self.ttl;
        d[9] = self.proto;
        d[12..16].copy_from_slice(&self.src.octets());
        d[16..20].copy_from_slice(&self.dst.octets());
        d[20..hl].copy_from_slice(options);
        let c = checksum::checksum(&d[..hl]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        d[hl..].copy_from_slice(payload);
        d
    }

    /// The datagram carrying `payload`, whole or in fragments as the input asks: regular
    /// pieces in order or reversed, or arbitrary ones (overlapping, repeated, odd sizes). A
    /// corrupted header checksum now and then.
    fn datagrams(&self, inp: &mut Input<'_>, payload: &[u8]) -> Vec<Vec<u8>> {
        let mut out = match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2, 3]) {
            0 => vec![self.emit(&self.options, payload, 0, false)],
            1 | 2 => {
                let size = 8 * (1 + usize::from(inp.u8() % 64));
                let mut v = Vec::new();
                let mut off = 0;
                loop {
                    let end = (off + size).min(payload.len());
                    let more = end < payload.len();
                    // Options travel in the first fragment (copied ones in all: we keep it
                    // simple and send them in the first only).
                    let opts: &[u8] = if off == 0 { &self.options } else { &[] };
                    v.push(self.emit(opts, &payload[off..end], off, more));
                    off = end;
                    if !more || v.len() >= 48 {
                        break;
                    }
                }
                if inp.bool() {
                    v.reverse();
                }
                v
            }
            _ => {
                let n = 1 + usize::from(inp.u8() % 6);
                (0..n)
                    .map(|_| {
                        let off = 8 * usize::from(inp.u8()) % (payload.len() + 8);
                        let off = off - off % 8;
                        let len = usize::from(inp.u16()) % (payload.len() + 9);
                        let start = off.min(payload.len());
                        let end = (start + len).min(payload.len());
                        let opts: &[u8] = if off == 0 { &self.options } else { &[] };
                        self.emit(opts, &payload[start..end], off, inp.bool())
                    })
                    .collect()
            }
        };
        if inp.pick(&[0u8, 0, 0, 0, 0, 0, 0, 1]) == 1 {
            if let Some(d) = out.first_mut() {
                d[10] ^= 0x5a;
            }
        }
        out
    }
}

fn udp_segment(
    inp: &mut Input<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut s = vec![0u8; len];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    // A length field that lies now and then.
    let field = match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2]) {
        0 => len as u16,
        1 => (len as u16).wrapping_add(8),
        _ => 7,
    };
    s[4..6].copy_from_slice(&field.to_be_bytes());
    s[8..].copy_from_slice(payload);
    let c = l4_checksum(inp, src, dst, 17, &s);
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

#[allow(clippy::too_many_arguments)]
fn tcp_segment(
    inp: &mut Input<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut o = options.to_vec();
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(1);
    }
    let hl = 20 + o.len();
    let mut s = vec![0u8; hl + payload.len()];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..8].copy_from_slice(&seq.to_be_bytes());
    s[8..12].copy_from_slice(&ack.to_be_bytes());
    s[12] = ((hl / 4) as u8) << 4;
    s[13] = flags;
    s[14..16].copy_from_slice(&window.to_be_bytes());
    if flags & 0x20 != 0 {
        s[18..20].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    s[20..hl].copy_from_slice(&o);
    s[hl..].copy_from_slice(payload);
    let c = l4_checksum(inp, src, dst, 6, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

fn icmp_message(typ: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 8 + body.len()];
    m[0] = typ;
    m[1] = code;
    m[4..8].copy_from_slice(&rest);
    m[8..].copy_from_slice(body);
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Bytes with a recognisable pattern (the fuzz input is usually too short for payloads).
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

/// A payload of a length the input picks: a pattern, or (choice 2) bytes from the input.
fn payload(inp: &mut Input<'_>) -> Vec<u8> {
    let n = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
        0 => 8,
        1 => 0,
        2 => {
            let n = usize::from(inp.u8() % 64);
            return inp.bytes(n);
        }
        3 => 536,
        4 => 1472,
        5 => 1473,
        6 => usize::from(inp.u16()) % 9000,
        _ => 4000,
    };
    pattern(n, n as u8)
}

// ---------------------------------------------------------------------------------------------
// The scripted peers
// ---------------------------------------------------------------------------------------------

/// A TCP connection as a peer tracks it from the segments the node sent.
#[derive(Debug, Clone, Copy)]
struct Tcb {
    peer_ip: Ipv4Addr,
    peer_port: u16,
    node_port: u16,
    /// The peer's next sequence number.
    peer_nxt: u32,
    /// The node's next sequence number (what to acknowledge).
    node_nxt: u32,
    /// The node's last acknowledgment.
    node_ack: u32,
}

/// A host on one of the node's links: sends what the script builds, records what the node
/// sends, answers ARP (and echo requests) when told to.
struct Peer {
    q: MemQueue,
    _port: MemPort,
    ep: usize,
    mac: MacAddr,
    ip: Ipv4Addr,
    node_mac: MacAddr,
    node_ip: Ipv4Addr,
    /// The link's prefix (the peer answers ARP for every address of it but the node's).
    net: [u8; 3],
    answer_arp: bool,
    answer_echo: bool,
    tcbs: VecDeque<Tcb>,
    /// The last IPv4 datagrams the node sent (for ICMP errors quoting them).
    from_node: VecDeque<Vec<u8>>,
    frames_in: u64,
}

impl Peer {
    fn send(&mut self, frame: &[u8]) {
        let Some(mut b) = self.q.alloc() else { return };
        let Some(d) = b.append(frame.len()) else {
            return;
        };
        d.copy_from_slice(frame);
        let mut batch = Batch::new();
        let _ = batch.push(b);
        self.q.tx_burst(&mut batch);
    }

    fn send_ip(&mut self, dst_mac: MacAddr, datagrams: Vec<Vec<u8>>) {
        for d in datagrams {
            let f = eth(dst_mac, self.mac, EtherType::IPV4, &d);
            self.send(&f);
        }
    }

    /// A MAC for each address the peer answers for.
    fn mac_for(&self, ip: Ipv4Addr) -> MacAddr {
        if ip == self.ip {
            self.mac
        } else {
            let o = ip.octets();
            MacAddr::new(0x02, 0x77, o[0], o[1], o[2], o[3])
        }
    }

    fn tcb(&mut self, peer_ip: Ipv4Addr, peer_port: u16, node_port: u16) -> Option<&mut Tcb> {
        self.tcbs
            .iter_mut()
            .find(|t| t.peer_ip == peer_ip && t.peer_port == peer_port && t.node_port == node_port)
    }

    /// Takes what the node sent: records it, answers ARP and echo requests.
    fn receive(&mut self) -> usize {
        let mut rx = Batch::new();
        self.q.rx_burst(&mut rx);
        let n = rx.len();
        let frames: Vec<Vec<u8>> = rx
            .drain(..)
            .map(|b| {
                let mut v = vec![0u8; b.pkt_len()];
                b.copy_to(&mut v);
                v
            })
            .collect();
        for f in frames {
            self.frames_in += 1;
            self.observe(&f);
        }
        n
    }

    fn observe(&mut self, f: &[u8]) {
        let Ok(e) = ethernet::Frame::new_checked(f) else {
            return;
        };
        let body = e.payload();
        match e.ethertype() {
            EtherType::ARP if body.len() >= 28 && self.answer_arp => {
                let op = u16::from_be_bytes([body[6], body[7]]);
                let spa = Ipv4Addr::new(body[14], body[15], body[16], body[17]);
                let tpa = Ipv4Addr::new(body[24], body[25], body[26], body[27]);
                let sha = MacAddr::new(body[8], body[9], body[10], body[11], body[12], body[13]);
                let o = tpa.octets();
                if op == 1 && [o[0], o[1], o[2]] == self.net && tpa != self.node_ip && o[3] != 0 {
                    let mac = self.mac_for(tpa);
                    let mut r = [0u8; 28];
                    r[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
                    r[6..8].copy_from_slice(&2u16.to_be_bytes());
                    r[8..14].copy_from_slice(&mac.0);
                    r[14..18].copy_from_slice(&tpa.octets());
                    r[18..24].copy_from_slice(&sha.0);
                    r[24..28].copy_from_slice(&spa.octets());
                    let f = eth(sha, mac, EtherType::ARP, &r);
                    self.send(&f);
                }
            }
            EtherType::IPV4 => self.observe_ip(body),
            _ => {}
        }
    }

    fn observe_ip(&mut self, d: &[u8]) {
        if d.len() < 20 || d[0] >> 4 != 4 {
            return;
        }
        let hl = usize::from(d[0] & 0x0f) * 4;
        let tl = usize::from(u16::from_be_bytes([d[2], d[3]])).min(d.len());
        if hl < 20 || tl < hl {
            return;
        }
        if self.from_node.len() >= 8 {
            self.from_node.pop_front();
        }
        self.from_node.push_back(d[..tl.min(600)].to_vec());
        let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
        let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
        let frag = u16::from_be_bytes([d[6], d[7]]) & 0x3fff != 0;
        let l4 = &d[hl..tl];
        match d[9] {
            6 if !frag && l4.len() >= 20 => {
                let sport = u16::from_be_bytes([l4[0], l4[1]]);
                let dport = u16::from_be_bytes([l4[2], l4[3]]);
                let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
                let ack = u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]);
                let flags = l4[13];
                let thl = usize::from(l4[12] >> 4) * 4;
                let len = l4.len().saturating_sub(thl) as u32
                    + u32::from(flags & 0x02 != 0)
                    + u32::from(flags & 0x01 != 0);
                let end = seq.wrapping_add(len);
                if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
                    eprintln!("    node → {dst}:{dport} from :{sport} seq {seq} ack {ack} flags {flags:#x} len {len}");
                }
                if let Some(t) = self.tcb(dst, dport, sport) {
                    if (end.wrapping_sub(t.node_nxt) as i32) > 0 || flags & 0x02 != 0 {
                        t.node_nxt = end;
                    }
                    if flags & 0x10 != 0 {
                        t.node_ack = ack;
                    }
                } else if flags & 0x04 == 0 {
                    // A connection the node opens (or one the peer forgot): track it.
                    if self.tcbs.len() >= MAX_HANDLES {
                        self.tcbs.pop_front();
                    }
                    self.tcbs.push_back(Tcb {
                        peer_ip: dst,
                        peer_port: dport,
                        node_port: sport,
                        peer_nxt: 0x1000_0000 ^ u32::from(dport),
                        node_nxt: end,
                        node_ack: ack,
                    });
                }
            }
            1 if self.answer_echo && l4.len() >= 8 && l4[0] == 8 && !frag => {
                let reply = icmp_message(0, 0, [l4[4], l4[5], l4[6], l4[7]], &l4[8..]);
                let h = IpHdr::plain(dst, src, 1);
                let mac = self.mac_for(dst);
                let f = eth(
                    self.node_mac,
                    mac,
                    EtherType::IPV4,
                    &h.emit(&[], &reply, 0, false),
                );
                self.send(&f);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------------

/// A node and its peers on their wires.
struct Lab {
    clock: VirtualClock,
    wires: Vec<Wire>,
    pool: MemPool,
    node: Option<Node<MemPort>>,
    peers: Vec<Peer>,
    router: bool,
    port_names: Vec<&'static str>,
    /// Whether an outbound filter rule may have existed: locally sent datagrams it denies are
    /// counted with the transit ones in `fwd.drop_filter_out`, so the receive identity holds
    /// as an inequality then.
    out_filters: bool,
    replies: Vec<mpsc::Receiver<Response>>,
    handles: Vec<(usize, SocketHandle)>,
    listeners: Vec<(usize, ListenerHandle)>,
    udp_socks: Vec<(usize, SocketId)>,
    script_time: Nanos,
}

impl Lab {
    fn node(&mut self) -> &mut Node<MemPort> {
        self.node.as_mut().expect("node alive")
    }

    fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn workers(&self) -> usize {
        self.node.as_ref().map_or(0, |n| n.workers.len())
    }

    /// Steps the node, the wires and the peers at the current instant until nothing moves
    /// (or `SETTLE_ROUNDS` pass: a service may keep sending while the window is open).
    fn settle(&mut self) -> bool {
        let now = self.now();
        for _ in 0..SETTLE_ROUNDS {
            for w in &self.wires {
                w.deliver_due();
            }
            let mut moved = 0;
            for p in &mut self.peers {
                moved += p.receive();
            }
            for w in &self.wires {
                w.deliver_due();
            }
            moved += self.node().step(now);
            if moved == 0 {
                return true;
            }
        }
        false
    }

    /// Runs for `d` of virtual time: to each wire event or TCP deadline, at most `max_step`
    /// at a time (ARP, IGMP and route timers work in seconds; the control thread sees them
    /// at the next step).
    fn run_for(&mut self, d: Nanos, max_step: Nanos) {
        let end = self.now() + d;
        loop {
            self.settle();
            let now = self.now();
            if now >= end {
                break;
            }
            let mut next = (now + max_step).min(end);
            for w in &self.wires {
                if let Some(t) = w.next_event() {
                    next = next.min(t);
                }
            }
            for w in self.node().workers.iter_mut() {
                if let Some(t) = w.tcp().next_deadline() {
                    next = next.min(t);
                }
            }
            self.clock
                .advance_to(next.max(now + Nanos::from_micros(100)).min(end.max(now)));
        }
    }

    fn request(&mut self, req: Request, keep: bool) {
        let (tx, rx) = mpsc::channel();
        let _ = self.node().commands.send(Command {
            req,
            reply: tx.into(),
        });
        if keep && self.replies.len() < 64 {
            self.replies.push(rx);
        }
    }

    /// Reads what the node's UDP sockets hold.
    fn drain_udp(&mut self) {
        let socks = self.udp_socks.clone();
        let node = self.node();
        for (w, s) in socks {
            while let Some(r) = node.workers[w].udp.recv_from(s) {
                let mut out = vec![0u8; r.len];
                let _ = r.copy_payload(&mut out);
            }
        }
        for w in node.workers.iter_mut() {
            while w.udp.next_ready().is_some() {}
        }
    }

    /// The addresses datagrams from peer `p` go to.
    fn dst_choice(&self, inp: &mut Input<'_>, p: usize) -> Ipv4Addr {
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        if self.router {
            inp.pick(&[
                if p == 0 { B_IP } else { A_IP },
                Ipv4Addr::new(198, 19, 1, 1),
                peer.node_ip,
                if p == 0 { R_B_IP } else { R_A_IP },
                Ipv4Addr::new(a, b, c, 77),
                Ipv4Addr::new(198, 20, 0, 1),
                Ipv4Addr::new(169, 254, 1, 1),
                Ipv4Addr::new(a, b, c, 255),
                Ipv4Addr::BROADCAST,
                GROUP,
                Ipv4Addr::new(224, 0, 0, 1),
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::new(0, 1, 2, 3),
                Ipv4Addr::new(240, 0, 0, 1),
                Ipv4Addr::new(198, 18, 2, 255),
            ])
        } else {
            inp.pick(&[
                NODE_IP,
                Ipv4Addr::new(198, 18, 0, 255),
                Ipv4Addr::BROADCAST,
                GROUP,
                Ipv4Addr::new(224, 0, 0, 1),
                Ipv4Addr::new(239, 9, 9, 9),
                Ipv4Addr::new(198, 18, 0, 99),
                Ipv4Addr::new(198, 19, 1, 1),
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::UNSPECIFIED,
            ])
        }
    }

    /// The source addresses peer `p` uses (itself, usually).
    fn src_choice(&self, inp: &mut Input<'_>, p: usize) -> Ipv4Addr {
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        inp.pick(&[
            peer.ip,
            peer.ip,
            peer.ip,
            Ipv4Addr::new(a, b, c, 9),
            Ipv4Addr::new(198, 19, 7, 7),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(224, 0, 0, 5),
            Ipv4Addr::BROADCAST,
            peer.node_ip,
            Ipv4Addr::new(169, 254, 3, 3),
        ])
    }

    /// The MAC frames from peer `p` go to (the node's, usually).
    fn dst_mac(&self, inp: &mut Input<'_>, p: usize, dst: Ipv4Addr) -> MacAddr {
        let peer = &self.peers[p];
        match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2, 3]) {
            0 if dst.is_multicast() => MacAddr::from_ipv4_multicast(dst).unwrap_or(peer.node_mac),
            0 if dst.is_broadcast() || dst.octets()[3] == 255 => MacAddr::BROADCAST,
            0 => peer.node_mac,
            1 => MacAddr::BROADCAST,
            2 => MacAddr::new(0x02, 0x99, 0, 0, 0, 1),
            _ => MacAddr::new(0x01, 0x00, 0x5e, 0x01, 0x02, 0x03),
        }
    }

    fn peer_choice(&self, inp: &mut Input<'_>) -> usize {
        usize::from(inp.u8()) % self.peers.len()
    }

    // -- actions --------------------------------------------------------------------------

    fn act(&mut self, inp: &mut Input<'_>) {
        let code = inp.u8() % op::COUNT;
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            eprintln!("  {:?} op {code} at input byte {}", self.now(), inp.at - 1);
        }
        match code {
            op::RAW => self.raw(inp),
            op::ARP => self.arp(inp),
            op::IP => self.ip(inp),
            op::UDP => self.udp(inp),
            op::TCP => self.tcp(inp),
            op::ICMP => self.icmp(inp),
            op::ICMP_ERROR => self.icmp_error(inp),
            op::IGMP => self.igmp(inp),
            op::ADVANCE => self.advance(inp),
            op::CTL => self.ctl(inp),
            op::APP => self.app(inp),
            _ => self.peer_mode(inp),
        }
        self.settle();
    }

    fn raw(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let len = usize::from(inp.u16()) % 2100;
        let mut body = inp.bytes(len.min(96));
        body.extend(pattern(len.saturating_sub(body.len()), 0x3c));
        let peer = &self.peers[p];
        let frame = match inp.pick(&[0u8, 1, 2, 3, 4]) {
            0 => eth(peer.node_mac, peer.mac, EtherType::IPV4, &body),
            1 => eth(peer.node_mac, peer.mac, EtherType(0x8100), &body),
            2 => eth(MacAddr::BROADCAST, peer.mac, EtherType::ARP, &body),
            3 => eth(peer.node_mac, peer.mac, EtherType(0x86dd), &body),
            _ => body,
        };
        self.peers[p].send(&frame);
    }

    fn arp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        let op = inp.pick(&[1u16, 2, 1, 2, 3, 0]);
        let sha = inp.pick(&[
            peer.mac,
            peer.mac,
            MacAddr::new(2, 0x55, 0, 0, 0, 5),
            peer.node_mac,
            MacAddr::BROADCAST,
            MacAddr::ZERO,
        ]);
        let spa = inp.pick(&[
            peer.ip,
            Ipv4Addr::new(a, b, c, 5),
            Ipv4Addr::UNSPECIFIED,
            peer.node_ip,
            Ipv4Addr::new(198, 19, 0, 1),
            Ipv4Addr::new(a, b, c, 255),
            Ipv4Addr::new(224, 0, 0, 1),
        ]);
        let tha = inp.pick(&[MacAddr::ZERO, peer.node_mac, MacAddr::BROADCAST]);
        let tpa = inp.pick(&[
            peer.node_ip,
            peer.ip,
            Ipv4Addr::new(a, b, c, 5),
            spa,
            Ipv4Addr::new(198, 19, 0, 1),
        ]);
        let dst = inp.pick(&[
            MacAddr::BROADCAST,
            peer.node_mac,
            MacAddr::new(2, 0x99, 0, 0, 0, 1),
        ]);
        let mut r = vec![0u8; 28];
        r[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3]) {
            0 => {}
            1 => r[1] = 6,
            2 => r[4] = 8,
            _ => r.truncate(usize::from(inp.u8()) % 28),
        }
        if r.len() == 28 {
            r[6..8].copy_from_slice(&op.to_be_bytes());
            r[8..14].copy_from_slice(&sha.0);
            r[14..18].copy_from_slice(&spa.octets());
            r[18..24].copy_from_slice(&tha.0);
            r[24..28].copy_from_slice(&tpa.octets());
        }
        let f = eth(dst, sha, EtherType::ARP, &r);
        self.peers[p].send(&f);
    }

    /// A datagram of any protocol, with options and fragments as the input asks.
    fn ip(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let proto = inp.pick(&[17u8, 6, 1, 2, 47, 50, 99, 0]);
        let body = payload(inp);
        let seg = match proto {
            17 => {
                let dport = inp_port(inp, &[7, 9, 5000, 4444]);
                udp_segment(inp, src, dst, 40000, dport, &body)
            }
            6 => {
                let sport = 40000 + u16::from(inp.u8() % 4);
                let dport = inp_port(inp, &[80, 7, 5001, 81]);
                let flags = inp.pick(&[0x02u8, 0x10, 0x12, 0x04, 0x18, 0x11]);
                let seq = inp.u32();
                tcp_segment(inp, src, dst, sport, dport, seq, 0, flags, 8192, &[], &body)
            }
            1 => icmp_message(8, 0, [0, 7, 0, 1], &body),
            _ => body,
        };
        let h = IpHdr::fuzz(inp, src, dst, proto);
        let ds = h.datagrams(inp, &seg);
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    fn udp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let sport = inp.pick(&[40000u16, 7, 19, 0, 5000]);
        let dport = inp_port(inp, &[7, 9, 13, 17, 19, 5000, 4444, 0, 53, 5001]);
        let body = payload(inp);
        let seg = udp_segment(inp, src, dst, sport, dport, &body);
        let h = IpHdr::plain(src, dst, 17);
        let ds = if inp.bool() {
            IpHdr::fuzz(inp, src, dst, 17).datagrams(inp, &seg)
        } else {
            h.datagrams(inp, &seg)
        };
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    /// A TCP segment on a connection the peer tracks (sequence and acknowledgment numbers
    /// following the node's), or on a new one.
    fn tcp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let existing = inp.pick(&[true, true, false]) && !self.peers[p].tcbs.is_empty();
        let t = if existing {
            let i = usize::from(inp.u8()) % self.peers[p].tcbs.len();
            self.peers[p].tcbs[i]
        } else {
            let peer_ip = self.src_choice(inp, p);
            let peer_port = 40000 + u16::from(inp.u8() % 4);
            let node_port = inp_port(inp, &[80, 7, 9, 13, 17, 19, 5001, 81, 5000]);
            let t = Tcb {
                peer_ip,
                peer_port,
                node_port,
                peer_nxt: inp.u32(),
                node_nxt: 0,
                node_ack: 0,
            };
            let peer = &mut self.peers[p];
            if peer.tcb(peer_ip, peer_port, node_port).is_none() {
                if peer.tcbs.len() >= MAX_HANDLES {
                    peer.tcbs.pop_front();
                }
                peer.tcbs.push_back(t);
            }
            t
        };
        let flags = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
            0 => 0x10, // ACK
            1 => 0x02, // SYN
            2 => 0x18, // PSH ACK
            3 => 0x11, // FIN ACK
            4 => 0x12, // SYN ACK
            5 => 0x04, // RST
            6 => 0x14, // RST ACK
            7 => 0x01, // FIN
            8 => 0x30, // URG ACK
            9 => 0,
            _ => inp.u8(),
        };
        let seq = match inp.pick(&[0u8, 0, 0, 1, 2, 3]) {
            0 => t.peer_nxt,
            1 => t
                .peer_nxt
                .wrapping_add((i32::from(inp.u8() as i8) * 64) as u32),
            2 => inp.u32(),
            _ => t.peer_nxt.wrapping_sub(1),
        };
        let ack = match inp.pick(&[0u8, 0, 0, 1, 2, 3]) {
            0 => t.node_nxt,
            1 => t
                .node_nxt
                .wrapping_add((i32::from(inp.u8() as i8) * 64) as u32),
            2 => inp.u32(),
            _ => t.node_ack,
        };
        let window = inp.pick(&[65535u16, 8192, 0, 1, 512]);
        let options: Vec<u8> = match inp.pick(&[0u8, 0, 1, 2, 3, 4, 5]) {
            // MSS 1460, window scale 7, SACK permitted (no timestamps: later segments of
            // the scripts carry none, and a connection that negotiated them drops those).
            0 if flags & 0x02 != 0 => vec![2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1],
            0 => Vec::new(),
            1 => vec![2, 4, inp.u8(), inp.u8()],
            2 => {
                let mut v = vec![1, 1, 8, 10];
                v.extend(inp.u32().to_be_bytes());
                v.extend(inp.u32().to_be_bytes());
                v
            }
            3 => {
                // SACK blocks around what the node sent.
                let l = t.node_nxt.wrapping_sub(u32::from(inp.u16()));
                let r = l.wrapping_add(u32::from(inp.u16()));
                let mut v = vec![1, 1, 5, 10];
                v.extend(l.to_be_bytes());
                v.extend(r.to_be_bytes());
                v
            }
            4 => vec![1, 3, 3, inp.u8(), 4, 2],
            _ => {
                let n = usize::from(inp.u8() % 41);
                inp.bytes(n)
            }
        };
        let body = if t.node_port == 80 && inp.pick(&[true, false]) {
            match inp.pick(&[0u8, 1, 2]) {
                0 => b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                1 => b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
                _ => b"GET / HTTP/1.0\r\n".to_vec(),
            }
        } else if flags & 0x07 != 0 && inp.pick(&[true, true, false]) {
            Vec::new()
        } else {
            payload(inp)
        };
        let seg = tcp_segment(
            inp,
            t.peer_ip,
            self.peers[p].node_ip,
            t.peer_port,
            t.node_port,
            seq,
            ack,
            flags,
            window,
            &options,
            &body,
        );
        let len = body.len() as u32 + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            eprintln!(
                "    peer → :{} from {}:{} seq {seq} ack {ack} flags {flags:#x} len {len}",
                t.node_port, t.peer_ip, t.peer_port
            );
        }
        if let Some(t) = self.peers[p].tcb(t.peer_ip, t.peer_port, t.node_port) {
            t.peer_nxt = seq.wrapping_add(len);
        }
        let node_ip = self.peers[p].node_ip;
        let h = if inp.pick(&[false, false, false, true]) {
            IpHdr::fuzz(inp, t.peer_ip, node_ip, 6)
        } else {
            IpHdr::plain(t.peer_ip, node_ip, 6)
        };
        let ds = h.datagrams(inp, &seg);
        let mac = self.peers[p].node_mac;
        self.peers[p].send_ip(mac, ds);
    }

    fn icmp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let data = payload(inp);
        let m = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
            0 => icmp_message(8, 0, [0, 7, 0, 1], &data),
            // An echo reply with a ctl session's identifier.
            1 => icmp_message(0, 0, [0xb5, inp.u8(), 0, inp.u8()], &data),
            2 => icmp_message(13, 0, [0, 1, 0, 1], &[0u8; 12]),
            3 => icmp_message(
                inp.u8(),
                inp.u8(),
                [inp.u8(), inp.u8(), inp.u8(), inp.u8()],
                &data,
            ),
            4 => {
                let mut m = icmp_message(8, 0, [0, 7, 0, 2], &data);
                m[2] ^= 1;
                m
            }
            // Router discovery: an advertisement listing up to 3 routers (the peer, a
            // neighbour, anything) with any preference and lifetime, or a solicitation.
            6 => {
                let n = 1 + inp.u8() % 3;
                let mut entries = Vec::new();
                for _ in 0..n {
                    let addr = match inp.u8() % 3 {
                        0 => self.peers[p].ip,
                        1 => std::net::Ipv4Addr::new(198, 18, 1 + (inp.u8() % 2), inp.u8()),
                        _ => std::net::Ipv4Addr::from([inp.u8(), inp.u8(), inp.u8(), inp.u8()]),
                    };
                    entries.extend_from_slice(&addr.octets());
                    entries.extend_from_slice(&[inp.u8(), inp.u8(), inp.u8(), inp.u8()]);
                }
                let lifetime = [0, 0, inp.u8(), inp.u8()];
                icmp_message(9, 0, [n, 2, lifetime[2] % 4, lifetime[3]], &entries)
            }
            7 => icmp_message(10, 0, [0; 4], &[]),
            _ => data.get(..3).unwrap_or(&[]).to_vec(),
        };
        let h = IpHdr::fuzz(inp, src, dst, 1);
        let ds = h.datagrams(inp, &m);
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    /// An ICMP error quoting one of the node's own datagrams (or bytes), from the peer or a
    /// router-like address.
    fn icmp_error(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let peer = &self.peers[p];
        let bytes_instead = inp.pick(&[false, false, false, true]);
        let quoted = if peer.from_node.is_empty() || bytes_instead {
            let n = usize::from(inp.u8() % 64);
            inp.bytes(n)
        } else {
            let i = usize::from(inp.u8()) % peer.from_node.len();
            let d = &peer.from_node[peer.from_node.len() - 1 - i];
            let hl = usize::from(d[0] & 0x0f) * 4;
            let n = match inp.pick(&[0u8, 1, 2, 3]) {
                0 => hl + 8,
                1 => d.len(),
                2 => usize::from(inp.u8()),
                _ => hl.saturating_sub(1),
            };
            d[..n.min(d.len())].to_vec()
        };
        let (typ, code, rest) = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
            // Fragmentation needed with a next-hop MTU.
            0 => (3, 4, {
                let mtu = inp.pick(&[576u16, 1280, 68, 0, 1000, 9000, 300]);
                [0, 0, (mtu >> 8) as u8, mtu as u8]
            }),
            1 => (3, inp.u8() % 16, [0; 4]),
            2 => (11, inp.u8() % 2, [0; 4]),
            3 => {
                let [a, b, c] = peer.net;
                (
                    5,
                    inp.u8() % 4,
                    inp.pick(&[
                        [a, b, c, 7],
                        peer.ip.octets(),
                        peer.node_ip.octets(),
                        [198, 19, 0, 1],
                        [0, 0, 0, 0],
                    ]),
                )
            }
            4 => (4, 0, [0; 4]),
            5 => (12, 0, [inp.u8(), 0, 0, 0]),
            6 => (3, 3, [0; 4]),
            _ => (inp.u8(), inp.u8(), [0; 4]),
        };
        let m = icmp_message(typ, code, rest, &quoted);
        let src = inp.pick(&[
            peer.ip,
            Ipv4Addr::new(198, 19, 0, 1),
            Ipv4Addr::new(peer.net[0], peer.net[1], peer.net[2], 7),
        ]);
        let h = IpHdr::plain(src, peer.node_ip, 1);
        let ds = h.datagrams(inp, &m);
        let mac = peer.node_mac;
        self.peers[p].send_ip(mac, ds);
    }

    fn igmp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let group = inp.pick(&[
            GROUP,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(239, 9, 9, 9),
            Ipv4Addr::new(224, 0, 0, 1),
        ]);
        let (m, dst) = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6]) {
            // v3 query with sources.
            0 => {
                let n = usize::from(inp.u8() % 5);
                let mut m = vec![0x11, inp.pick(&[20, 0, 100, 255]), 0, 0];
                m.extend(group.octets());
                m.extend([2, 125]);
                m.extend((n as u16).to_be_bytes());
                for i in 0..n {
                    m.extend([198, 18, 0, i as u8 + 1]);
                }
                (
                    m,
                    if group.is_unspecified() {
                        Ipv4Addr::new(224, 0, 0, 1)
                    } else {
                        group
                    },
                )
            }
            // v2 query.
            1 => {
                let mut m = vec![0x11, inp.u8(), 0, 0];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 1))
            }
            // v1 query.
            2 => (vec![0x11, 0, 0, 0, 0, 0, 0, 0], Ipv4Addr::new(224, 0, 0, 1)),
            // v2 report, leave.
            3 => {
                let mut m = vec![0x16, 0, 0, 0];
                m.extend(group.octets());
                (m, group)
            }
            4 => {
                let mut m = vec![0x17, 0, 0, 0];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 2))
            }
            // v3 report with a record.
            5 => {
                let mut m = vec![
                    0x22,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                    inp.pick(&[1, 2, 3, 4, 5, 6]),
                    0,
                    0,
                    0,
                ];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 22))
            }
            _ => {
                let n = usize::from(inp.u8() % 32);
                (inp.bytes(n), Ipv4Addr::new(224, 0, 0, 1))
            }
        };
        let mut m = m;
        if m.len() >= 4 && inp.pick(&[true, true, true, false]) {
            m[2] = 0;
            m[3] = 0;
            let c = checksum::checksum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let h = IpHdr {
            ttl: 1,
            options: vec![148, 4, 0, 0],
            ..IpHdr::plain(src, dst, 2)
        };
        let ds = h.datagrams(inp, &m);
        let mac = MacAddr::from_ipv4_multicast(dst).unwrap_or(MacAddr::BROADCAST);
        self.peers[p].send_ip(mac, ds);
    }

    fn advance(&mut self, inp: &mut Input<'_>) {
        let d = inp.pick(&[
            Nanos::from_millis(10),
            Nanos::from_millis(1),
            Nanos::from_millis(100),
            Nanos::from_millis(250),
            Nanos::from_secs(1),
            Nanos::from_secs(3),
            Nanos::from_secs(10),
            Nanos::from_secs(61),
        ]);
        let d = d.min(MAX_SCRIPT_TIME.saturating_sub(self.script_time));
        self.script_time += d;
        let step = if d > Nanos::from_secs(5) {
            Nanos::from_millis(500)
        } else {
            Nanos::from_millis(50)
        };
        self.run_for(d, step);
    }

    fn ctl(&mut self, inp: &mut Input<'_>) {
        let port = inp.pick(&self.port_names.clone());
        let dir = inp.pick(&["in", "out", "in", "both"]);
        let ip = |inp: &mut Input<'_>| {
            inp.pick(&[
                PEER_IP,
                B_IP,
                A_IP,
                Ipv4Addr::new(198, 18, 0, 77),
                Ipv4Addr::new(198, 19, 1, 1),
                NODE_IP,
                R_A_IP,
                Ipv4Addr::new(198, 18, 2, 77),
                Ipv4Addr::BROADCAST,
                GROUP,
            ])
        };
        let prefix = |inp: &mut Input<'_>| {
            inp.pick(&[
                "198.19.0.0/16",
                "198.19.1.0/24",
                "0.0.0.0/0",
                "198.18.0.0/24",
                "198.19.1.1/32",
                "198.20.0.0/15",
                "198.18.2.0/24",
                "not a prefix",
                "198.19.0.0/33",
            ])
            .to_string()
        };
        let req = match inp.u8() % 15 {
            0 => {
                let opts = [
                    "--proto tcp",
                    "--proto udp",
                    "--proto icmp",
                    "--proto 47",
                    "--dport 80",
                    "--dport 5000-5010",
                    "--sport 7",
                    "--src 198.18.0.1/32",
                    "--dst 198.18.2.0/24",
                    "--flags syn",
                    "--bogus",
                ];
                let mut rule = String::new();
                for _ in 0..usize::from(inp.u8() % 4) {
                    rule.push_str(inp.pick(&opts));
                    rule.push(' ');
                }
                rule.push_str(inp.pick(&["deny", "permit", "count", ""]));
                if dir != "in" {
                    self.out_filters = true;
                }
                Request::FilterAdd {
                    port: port.into(),
                    dir: dir.into(),
                    rule,
                    index: inp.pick(&[None, Some(0), Some(1), Some(5)]),
                }
            }
            1 => Request::FilterDelete {
                port: port.into(),
                dir: dir.into(),
                index: usize::from(inp.u8() % 4),
            },
            2 => Request::RouteAdd {
                prefix: prefix(inp),
                via: ip(inp),
                metric: inp.pick(&[None, Some(1), Some(0), Some(u32::MAX)]),
            },
            3 => Request::RouteDelete {
                prefix: prefix(inp),
            },
            4 => Request::ArpAdd {
                ip: ip(inp),
                mac: inp
                    .pick(&[
                        "02:00:00:00:00:77",
                        "02:77:c6:12:00:01",
                        "ff:ff:ff:ff:ff:ff",
                        "nonsense",
                    ])
                    .into(),
                port: match inp.u8() % 3 {
                    0 => None,
                    1 => Some(port.to_string()),
                    _ => Some("zz".to_string()),
                },
            },
            5 => Request::ArpDelete { ip: ip(inp) },
            6 => Request::Ping {
                dst: ip(inp),
                count: 1 + u32::from(inp.u8() % 3),
                size: inp.pick(&[8u16, 1000, 1473, 4000, 20000, 65507, 0]),
                dont_frag: inp.bool(),
                ttl: inp.pick(&[None, Some(1), Some(64)]),
                timeout_ms: inp.pick(&[1000, 100, 5000]),
                interval_ms: inp.pick(&[0, 100]),
            },
            7 => Request::Tracert {
                dst: ip(inp),
                max_hops: 1 + inp.u8() % 4,
                timeout_ms: 500,
            },
            8 => Request::Trace {
                count: 1 + u32::from(inp.u8() % 4),
                timeout_ms: 1000,
            },
            9 => Request::Stats,
            10 => Request::ArpShow,
            11 => Request::RoutePrint,
            12 => Request::FilterList,
            13 => Request::Igmp,
            _ => Request::Netstat,
        };
        // Now and then the client goes away before the answer.
        let keep = inp.pick(&[true, true, true, false]);
        self.request(req, keep);
    }

    /// The node's own sockets: connect, send, read, close, shut down, abort, accept, UDP.
    fn app(&mut self, inp: &mut Input<'_>) {
        let nw = self.workers();
        let now = self.now();
        let w = usize::from(inp.u8()) % nw;
        let pick_handle = |lab: &Lab, inp: &mut Input<'_>| {
            let i = usize::from(inp.u8());
            (!lab.handles.is_empty()).then(|| lab.handles[i % lab.handles.len()])
        };
        match inp.u8() % 10 {
            0 => {
                let dst = if self.router {
                    inp.pick(&[B_IP, A_IP, Ipv4Addr::new(198, 19, 1, 1), R_A_IP])
                } else {
                    inp.pick(&[
                        PEER_IP,
                        Ipv4Addr::new(198, 19, 1, 1),
                        Ipv4Addr::new(198, 18, 0, 77),
                        NODE_IP,
                    ])
                };
                let port = inp.pick(&[5002u16, 80, 7, 81]);
                if self.handles.len() < MAX_HANDLES {
                    if let Ok(h) = self.node().workers[w].tcp_connect(now, (dst, port)) {
                        self.handles.push((w, h));
                    }
                }
            }
            1 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let n = inp.pick(&[100usize, 1, 1460, 5000, 40000]);
                    let data = pattern(n, 0x42);
                    let _ = self.node().workers[w].tcp().send(h, &data);
                }
            }
            2 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = self.node().workers[w].tcp().recv(h, &mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
            3 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().close(h);
                }
            }
            4 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().shutdown_write(h);
                }
            }
            5 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().abort(h);
                }
            }
            6 => {
                let ls = self.listeners.clone();
                for (w, l) in ls {
                    while self.handles.len() < MAX_HANDLES {
                        let Some(h) = self.node().workers[w].tcp().accept(l) else {
                            break;
                        };
                        self.handles.push((w, h));
                    }
                }
            }
            7 => self.drain_udp(),
            8 => {
                let dst = inp.pick(&[
                    PEER_IP,
                    B_IP,
                    Ipv4Addr::new(198, 18, 0, 255),
                    GROUP,
                    Ipv4Addr::new(198, 19, 1, 1),
                ]);
                let n = inp.pick(&[8usize, 1472, 3000, 0]);
                let data = pattern(n, 0x17);
                let _ = self.node().workers[w].udp_send(None, 5000, dst, 9, &data, now);
            }
            _ => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let ka = KeepAlive {
                        time: Nanos::from_secs(5),
                        interval: Nanos::from_secs(1),
                        probes: 2,
                    };
                    let on = inp.bool();
                    let _ = self.node().workers[w]
                        .tcp()
                        .set_keepalive(now, h, on.then_some(ka));
                }
            }
        }
    }

    fn peer_mode(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let m = inp.u8();
        self.peers[p].answer_arp = m & 1 == 0;
        self.peers[p].answer_echo = m & 2 == 0;
    }

    // -- the end ----------------------------------------------------------------------------

    /// Closes the node's sockets, lets every timer expire, checks the node idle, drops it and
    /// checks the pool whole.
    fn finish(mut self) {
        let mut handles = std::mem::take(&mut self.handles);
        // Connections still waiting in a listener's accept queue belong to the application
        // too (one reset there stays Closed until accepted, as on Linux): an application that
        // ends accepts and closes them, as closing its listener would.
        for (w, l) in self.listeners.clone() {
            while let Some(h) = self.node().workers[w].tcp().accept(l) {
                handles.push((w, h));
            }
        }
        for (w, h) in handles {
            let _ = self.node().workers[w].tcp().close(h);
        }
        self.run_for(FINAL_PHASE, Nanos::from_secs(1));
        self.drain_udp();
        // Idle at one instant (a service that still sends has a silent peer by now).
        let mut idle = false;
        for _ in 0..8 {
            if self.settle() {
                idle = true;
                break;
            }
        }
        assert!(idle, "the node is still busy after the final phase");
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            self.summary();
        }
        self.check_counters();
        self.check_tcp();
        assert_eq!(
            self.pool.in_use(),
            0,
            "buffers held by an idle node after every timer expired"
        );
        let Lab {
            node,
            peers,
            wires,
            pool,
            replies,
            ..
        } = self;
        drop(node);
        drop(replies);
        drop(peers);
        for w in &wires {
            w.clear();
        }
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }

    /// Prints the non-zero counters summed over workers (`BURST_FUZZ_DEBUG=1`), to see what
    /// an input reached.
    fn summary(&self) {
        let node = self.node.as_ref().expect("node alive");
        let mut total: Vec<(String, u64)> = Vec::new();
        for w in &node.workers {
            for (k, v) in w.shared_stats().snapshot() {
                match total.iter_mut().find(|(n, _)| *n == k) {
                    Some((_, t)) => *t += v,
                    None => total.push((k, v)),
                }
            }
        }
        let line: Vec<String> = total
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        eprintln!(
            "t={:?} peers_in={:?} {}",
            self.now(),
            self.peers.iter().map(|p| p.frames_in).collect::<Vec<_>>(),
            line.join(" ")
        );
    }

    /// Counter identities of every worker, and of the node against the wires.
    fn check_counters(&mut self) {
        let out_filters = self.out_filters;
        let node = self.node.as_ref().expect("node alive");
        let mut rx_by_port = vec![0u64; self.peers.len()];
        for (i, w) in node.workers.iter().enumerate() {
            let c: HashMap<String, u64> = w.shared_stats().snapshot().into_iter().collect();
            let g = |k: &str| *c.get(k).unwrap_or_else(|| panic!("no counter {k}"));
            let sum = |ks: &[&str]| ks.iter().map(|k| g(k)).sum::<u64>();
            // Every frame received: dropped at the link layer, ARP, or an IPv4 datagram.
            assert_eq!(
                g("l2.rx_frames"),
                sum(&[
                    "l2.drop_chained",
                    "l2.drop_malformed",
                    "l2.drop_not_our_mac",
                    "l2.drop_ethertype",
                    "l2.arp_rx",
                    "ipv4.received",
                ]),
                "worker {i}: frames received vs their outcomes"
            );
            let ports: u64 = (0..self.peers.len()).map(|p| g(&format!("p{p}.rx"))).sum();
            assert_eq!(ports, g("l2.rx_frames"), "worker {i}: per-port rx");
            for (p, r) in rx_by_port.iter_mut().enumerate() {
                *r += g(&format!("p{p}.rx"));
            }
            // Every IPv4 datagram received ends in exactly one outcome; a reassembled
            // datagram is one more datagram (its fragments each ended in reassembly).
            let refused = sum(&[
                "ipv4.drop_truncated",
                "ipv4.drop_version",
                "ipv4.drop_header_len",
                "ipv4.drop_checksum",
                "ipv4.drop_martian_source",
                "ipv4.drop_bad_options",
                "ipv4.drop_source_route",
                "ipv4.drop_address_disabled",
                "ipv4.drop_not_member",
                "ipv4.drop_not_for_us",
            ]);
            let transit = sum(&[
                "fwd.forwarded",
                "fwd.drop_ttl_expired",
                "fwd.drop_no_route",
                "fwd.drop_frag_needed",
                "fwd.drop_frag_failed",
                "fwd.drop_link_local",
                "fwd.drop_martian_dst",
                "fwd.drop_l2_not_unicast",
            ]) + (0..self.peers.len())
                .map(|p| g(&format!("p{p}.drop_unsegmentable")))
                .sum::<u64>();
            let local = sum(&["ipv4.delivered", "ipv4.drop_unknown_protocol"]) + w.filtered;
            // A datagram steered to the worker that owns its flow ends here as handed off (or
            // dropped on a full queue), and starts again there as handed in.
            let steered = sum(&[
                "ipv4.handed_off",
                "ipv4.drop_handoff_full",
                "ipv4.drop_handoff_fragmented",
            ]);
            let outcomes = refused
                + transit
                + local
                + steered
                + g("frag.reasm_reqds")
                + g("fwd.drop_filter_in");
            let received = g("ipv4.received") + g("ipv4.handed_in") + g("frag.reasm_oks");
            if out_filters {
                assert!(
                    outcomes <= received && received <= outcomes + g("fwd.drop_filter_out"),
                    "worker {i}: {received} datagrams received (reassembled included), {outcomes} \
                     outcomes + {} outbound filter drops",
                    g("fwd.drop_filter_out")
                );
            } else {
                assert_eq!(
                    received, outcomes,
                    "worker {i}: datagrams received (reassembled included) vs their outcomes: {c:?}"
                );
            }
            // A fragment reassembly refused is counted once in ipv4 and once by reason.
            let frag_drops = sum(&[
                "frag.drop_malformed",
                "frag.drop_bad_length",
                "frag.drop_tiny",
                "frag.drop_too_big",
                "frag.drop_overlap",
                "frag.drop_duplicate",
                "frag.drop_inconsistent",
                "frag.drop_too_many_fragments",
                "frag.drop_datagram_bytes",
                "frag.drop_table_full",
                "frag.drop_memory",
                "frag.drop_chain",
            ]);
            assert_eq!(
                g("ipv4.drop_fragment"),
                frag_drops,
                "worker {i}: fragments refused"
            );
            assert!(
                g("frag.reasm_oks") + g("frag.reasm_fails") <= g("frag.reasm_reqds"),
                "worker {i}: more datagrams closed than fragments received"
            );
            // Every ICMP message received is counted once by type, or as an error.
            assert_eq!(
                g("icmp.in_msgs"),
                sum(&[
                    "icmp.in_errors",
                    "icmp.in_echo_requests",
                    "icmp.in_echo_replies",
                    "icmp.in_dest_unreachable",
                    "icmp.in_time_exceeded",
                    "icmp.in_source_quench",
                    "icmp.in_redirects",
                    "icmp.in_router_advertisements",
                    "icmp.in_router_solicitations",
                    "icmp.in_other",
                ]),
                "worker {i}: ICMP messages by type"
            );
        }
        // What the wires delivered to the node's ports is what its workers received.
        for (p, peer) in self.peers.iter().enumerate() {
            let delivered = self.wires[p].counters(peer.ep).delivered;
            assert_eq!(
                rx_by_port[p], delivered,
                "port {p}: frames delivered vs received"
            );
        }
    }

    /// No connection left in a state that times out, and the established gauge right.
    fn check_tcp(&mut self) {
        for (i, w) in self.node().workers.iter_mut().enumerate() {
            let rows: Vec<_> = w
                .tcp()
                .connections()
                .map(|r| (r.state, r.local, r.remote))
                .collect();
            let estab = rows
                .iter()
                .filter(|r| matches!(r.0, State::Established | State::CloseWait))
                .count() as u64;
            assert_eq!(
                w.tcp().stats().curr_estab,
                estab,
                "worker {i}: tcp.curr_estab"
            );
            for r in &rows {
                assert!(
                    matches!(r.0, State::Established | State::CloseWait),
                    "worker {i}: connection {:?} → {:?} still {:?} after {FINAL_PHASE:?} of a \
                     silent peer",
                    r.1,
                    r.2,
                    r.0
                );
            }
        }
    }
}

fn inp_port(inp: &mut Input<'_>, common: &[u16]) -> u16 {
    if inp.pick(&[false, false, false, false, false, false, false, true]) {
        inp.u16()
    } else {
        inp.pick(common)
    }
}

/// A TCP stack small enough to build per input, with timers short enough to expire in the
/// final phase. The secret is fixed: a crash must replay byte for byte.
fn tcp_stack(tso: bool, keepalive: bool) -> StackConfig {
    let mut s = StackConfig {
        max_connections: 24,
        max_listeners: 16,
        syn_backlog: 4,
        max_backlog: 8,
        ephemeral_ports: (50_000, 50_011),
        reply_queue: 16,
        fin_wait2_timeout: Nanos::from_secs(20),
        secret: [7; 16],
        ..StackConfig::default()
    };
    s.tcp.time_wait = Nanos::from_secs(30);
    s.tcp.recv_buffer = 8192;
    s.tcp.send_buffer = 16384;
    s.tcp.initial_rto = Nanos::from_secs(1);
    s.tcp.max_rto = Nanos::from_secs(8);
    s.tcp.data_retries = 3;
    s.tcp.syn_retries = 2;
    if keepalive {
        s.tcp.keepalive = Some(KeepAlive {
            time: Nanos::from_secs(10),
            interval: Nanos::from_secs(1),
            probes: 3,
        });
    }
    if tso {
        s.tso_max_segs = burst_runtime::config::TSO_MAX_SEGS;
    }
    s
}

fn services() -> ServiceConfig {
    ServiceConfig {
        backlog: 4,
        max_connections: 8,
        http_body: b"burst\n".to_vec(),
        ..ServiceConfig::default()
    }
}

fn port_cfg(name: &str, mac: MacAddr, workers: usize) -> MemPortConfig {
    let mut pc = MemPortConfig::new(name, mac);
    pc.queues = workers as u16;
    pc.rx_ring = 256;
    pc.tx_ring = 256;
    pc.caps = Capabilities {
        rss: true,
        ..Capabilities::NONE
    };
    pc
}

fn peer(
    wire: &Wire,
    pool: &MemPool,
    mac: MacAddr,
    ip: Ipv4Addr,
    node_mac: MacAddr,
    node_ip: Ipv4Addr,
) -> Peer {
    let mut pc = MemPortConfig::new("peer", mac);
    pc.rx_ring = 4096;
    let mut port = MemPort::new(wire, pool, pc);
    let q = port.take_queue(0).expect("one queue");
    let o = ip.octets();
    Peer {
        q,
        ep: port.endpoint(),
        _port: port,
        mac,
        ip,
        node_mac,
        node_ip,
        net: [o[0], o[1], o[2]],
        answer_arp: true,
        answer_echo: true,
        tcbs: VecDeque::new(),
        from_node: VecDeque::new(),
        frames_in: 0,
    }
}

/// Listeners and UDP sockets of the node's own application, on every worker.
fn open_app(lab: &mut Lab) {
    for w in 0..lab.workers() {
        let node = lab.node();
        if let Ok(l) = node.workers[w].tcp().listen(None, 5001, 4) {
            lab.listeners.push((w, l));
        }
        if let Ok(s) = lab.node().workers[w].udp.bind(Ipv4Addr::UNSPECIFIED, 5000) {
            lab.udp_socks.push((w, s));
        }
    }
}

fn run_script(mut lab: Lab, inp: &mut Input<'_>) {
    // Duplicate address detection: the addresses become usable.
    lab.run_for(Nanos::from_millis(3500), Nanos::from_millis(250));
    open_app(&mut lab);
    for _ in 0..MAX_ACTIONS {
        if inp.done() {
            break;
        }
        lab.act(inp);
    }
    lab.finish();
}

/// A host: one port, UDP and TCP services, a default route through the peer, joined group.
pub fn host(data: &[u8]) {
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let workers = 1 + usize::from(cfg & 1);
    let pool_size = [1024, 256, 128, 512][usize::from(cfg >> 1) & 3];
    let filtering = match (cfg >> 3) & 3 {
        0 | 1 => Filtering::default(),
        2 => Filtering {
            tcp_ports: Some(vec![80, 7, 5001]),
            udp_ports: Some(vec![7, 9, 5000]),
            protocols: None,
        },
        _ => Filtering {
            tcp_ports: None,
            udp_ports: None,
            protocols: Some(vec![1, 6, 17]),
        },
    };
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(pool_size, burst_port::mem::DEFAULT_BUF_SIZE);
    let port = MemPort::new(&wire, &pool, port_cfg("p0", NODE_MAC, workers));
    let peer = peer(&wire, &pool, PEER_MAC, PEER_IP, NODE_MAC, NODE_IP);
    let node_cfg = NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: vec!["198.18.0.2/24".parse().unwrap()],
            groups: vec![GROUP],
            partial_checksums: None,
        }],
        routes: vec![NodeRoute {
            prefix: "0.0.0.0/0".parse().unwrap(),
            via: Some(PEER_IP),
            port: PortId(0),
            metric: 1,
        }],
        workers,
        icmp: IcmpConfig {
            error_rate: 1000,
            error_burst: 50,
            ..IcmpConfig::default()
        },
        lpm_tbl8_groups: 16,
        max_next_hops: 16,
        // Router discovery's host side: advertisements install and expire default routes
        // next to the configured one.
        rdisc: burst_runtime::control::RdiscSetup {
            host: burst_stack::rdisc::RdiscConfig {
                enabled: true,
                ..Default::default()
            },
            ..Default::default()
        },
        services: vec![
            Service::Echo,
            Service::Discard,
            Service::Daytime,
            Service::Qotd,
            Service::Chargen,
        ],
        qotd: "quote\r\n".into(),
        filtering,
        tcp: NodeTcp {
            stack: tcp_stack(cfg & 0x20 != 0, cfg & 0x40 != 0),
            tso_hardware_only: false,
            services: Some(services()),
        },
        buffers: (cfg & 0x80 == 0).then_some(Buffers {
            count: pool_size,
            size: burst_port::mem::DEFAULT_BUF_SIZE,
        }),
        ..NodeConfig::default()
    };
    let node = Node::build(&node_cfg, vec![port], clock.now()).expect("host node builds");
    let lab = Lab {
        clock,
        wires: vec![wire],
        pool,
        node: Some(node),
        peers: vec![peer],
        router: false,
        port_names: vec!["p0", "p9"],
        out_filters: false,
        replies: Vec::new(),
        handles: Vec::new(),
        listeners: Vec::new(),
        udp_socks: Vec::new(),
        script_time: Nanos::ZERO,
    };
    run_script(lab, &mut inp);
}

/// A router: two ports between hosts A and B, a gateway route behind B, filters.
pub fn router(data: &[u8]) {
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let workers = 1 + usize::from(cfg & 1);
    let pool_size = [1024, 256, 128, 512][usize::from(cfg >> 1) & 3];
    let mtu_b = [1500u16, 1280, 576, 1500][usize::from(cfg >> 3) & 3];
    let partial_a = cfg & 0x20 != 0;
    let filters: Vec<(String, Direction, Rule)> = match (cfg >> 6) & 3 {
        0 => vec![],
        1 => vec![(
            "a".into(),
            Direction::In,
            "--proto tcp --dport 80 deny".parse().unwrap(),
        )],
        2 => vec![
            (
                "a".into(),
                Direction::In,
                "--proto udp count".parse().unwrap(),
            ),
            (
                "b".into(),
                Direction::Out,
                "--proto icmp deny".parse().unwrap(),
            ),
        ],
        _ => vec![(
            "b".into(),
            Direction::In,
            "--src 198.18.2.1/32 permit".parse().unwrap(),
        )],
    };
    let out_filters = filters.iter().any(|f| f.1 == Direction::Out);
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wires = vec![
        Wire::new(&clock, WireConfig::default()),
        Wire::new(&clock, WireConfig::default()),
    ];
    let pool = MemPool::new(pool_size, burst_port::mem::DEFAULT_BUF_SIZE);
    let mut pa = port_cfg("a", R_A, workers);
    if partial_a {
        // A kernel peer: frames beyond the MTU arrive (super-frames), checksums left partial.
        pa.rx_max_frame = Some(2048);
    }
    let mut pb = port_cfg("b", R_B, workers);
    pb.mtu = mtu_b;
    let ports = vec![
        MemPort::new(&wires[0], &pool, pa),
        MemPort::new(&wires[1], &pool, pb),
    ];
    let mut peer_a = peer(&wires[0], &pool, A_MAC, A_IP, R_A, R_A_IP);
    let peer_b = peer(&wires[1], &pool, B_MAC, B_IP, R_B, R_B_IP);
    if partial_a {
        // Host A may send frames up to its buffer (a kernel peer's super-frames).
        peer_a.answer_echo = true;
    }
    let node_cfg = NodeConfig {
        ports: vec![
            NodePort {
                name: "a".into(),
                addrs: vec!["198.18.1.254/24".parse().unwrap()],
                groups: vec![],
                partial_checksums: Some(partial_a),
            },
            NodePort {
                name: "b".into(),
                addrs: vec!["198.18.2.254/24".parse().unwrap()],
                groups: vec![GROUP],
                partial_checksums: None,
            },
        ],
        routes: vec![NodeRoute {
            prefix: "198.19.0.0/16".parse().unwrap(),
            via: Some(B_IP),
            port: PortId(1),
            metric: 1,
        }],
        static_arp: if cfg & 0x10 != 0 {
            vec![("a".into(), A_IP, A_MAC), ("b".into(), B_IP, B_MAC)]
        } else {
            vec![]
        },
        workers,
        ipv4: Ipv4Config {
            forwarding: true,
            ..Ipv4Config::default()
        },
        icmp: IcmpConfig {
            error_rate: 1000,
            error_burst: 50,
            ..IcmpConfig::default()
        },
        lpm_tbl8_groups: 16,
        max_next_hops: 16,
        services: vec![Service::Echo],
        // Advertising on port a (solicitations there are answered).
        rdisc: burst_runtime::control::RdiscSetup {
            ports: vec![(PortId(0), 3)],
            advertise: burst_stack::radv::AdvertiseConfig {
                max_interval: Nanos::from_secs(4),
                min_interval: Nanos::from_secs(3),
                lifetime: Nanos::from_secs(12),
                broadcast: false,
            },
            ..Default::default()
        },
        send_redirects: cfg & 0x04 == 0,
        filters,
        tcp: NodeTcp {
            stack: tcp_stack(false, false),
            tso_hardware_only: false,
            services: None,
        },
        buffers: Some(Buffers {
            count: pool_size,
            size: burst_port::mem::DEFAULT_BUF_SIZE,
        }),
        ..NodeConfig::default()
    };
    let node = Node::build(&node_cfg, ports, clock.now()).expect("router node builds");
    let lab = Lab {
        clock,
        wires,
        pool,
        node: Some(node),
        peers: vec![peer_a, peer_b],
        router: true,
        port_names: vec!["a", "b", "c"],
        out_filters,
        replies: Vec::new(),
        handles: Vec::new(),
        listeners: Vec::new(),
        udp_socks: Vec::new(),
        script_time: Nanos::ZERO,
    };
    run_script(lab, &mut inp);
}

// ---------------------------------------------------------------------------------------------
// Seed scripts
// ---------------------------------------------------------------------------------------------

/// Builds scripts in the encoding [`host`] and [`router`] read (each method writes one
/// action's bytes, in the order the action reads them).
#[derive(Default)]
pub struct Script(pub Vec<u8>);

/// A TCP segment's payload, as the seed scripts ask for it.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// None.
    Empty,
    /// One of the HTTP requests (port 80 only).
    Http(u8),
    /// A pattern of a length `payload` picks (0: 8 bytes, 3: 536, 7: 4000).
    Data(u8),
}

/// The flags choices of the TCP action.
pub mod flags {
    pub const ACK: u8 = 0;
    pub const SYN: u8 = 1;
    pub const PSH_ACK: u8 = 2;
    pub const FIN_ACK: u8 = 3;
    pub const SYN_ACK: u8 = 4;
    pub const RST: u8 = 5;
}

const FLAG_VALUES: [u8; 6] = [0x10, 0x02, 0x18, 0x11, 0x12, 0x04];

impl Script {
    pub fn new(cfg: u8) -> Script {
        Script(vec![cfg])
    }

    pub fn op(mut self, op: u8, args: &[u8]) -> Script {
        self.0.push(op);
        self.0.extend_from_slice(args);
        self
    }

    /// Advance choice: 0 10 ms, 1 1 ms, 2 100 ms, 3 250 ms, 4 1 s, 5 3 s, 6 10 s, 7 61 s.
    pub fn advance(self, choice: u8) -> Script {
        self.op(op::ADVANCE, &[choice])
    }

    fn body(port80: bool, flags: u8, body: Body) -> Vec<u8> {
        let syn_fin_rst = FLAG_VALUES[usize::from(flags)] & 0x07 != 0;
        let mut v = Vec::new();
        match body {
            Body::Http(k) => v.extend([0, k]),
            Body::Empty => {
                if port80 {
                    v.push(1);
                }
                v.push(if syn_fin_rst { 0 } else { 1 });
            }
            Body::Data(c) => {
                if port80 {
                    v.push(1);
                }
                if syn_fin_rst {
                    v.push(2);
                }
                v.push(c);
            }
        }
        v
    }

    /// A segment from peer `p` on a new connection to the node's port choice `port` (0: 80,
    /// 1: 7, 6: 5001).
    pub fn tcp_new(self, p: u8, port: u8, flags: u8, body: Body) -> Script {
        let mut a = vec![p, 2, 0, 0, 0, port, 0, 0, 0x10, 0, flags, 0, 0, 0, 0];
        a.extend(Self::body(port == 0, flags, body));
        a.extend([0, 0, 0, 0]);
        self.op(op::TCP, &a)
    }

    /// A segment from peer `p` on its tracked connection `tcb` (oldest first), sequence and
    /// acknowledgment numbers following the node's.
    pub fn tcp(self, p: u8, tcb: u8, port80: bool, flags: u8, body: Body) -> Script {
        let mut a = vec![p, 0, tcb, flags, 0, 0, 0, 0];
        a.extend(Self::body(port80, flags, body));
        a.extend([0, 0, 0, 0]);
        self.op(op::TCP, &a)
    }

    /// A UDP datagram from peer `p` to destination choice `dst` (0: the node), port choice
    /// `port` (0: 7, 1: 9, 2: 13, 3: 17, 4: 19, 5: 5000, 6: 4444), payload choice `len`, in
    /// regular fragments of `8 * (1 + frag)` bytes when `frag` is set.
    pub fn udp(self, p: u8, dst: u8, port: u8, len: u8, frag: Option<u8>) -> Script {
        let mut a = vec![p, 0, dst, 0, 0, port, len, 0, 0, 0];
        match frag {
            None => a.push(0),
            Some(n) => a.extend([5, n, 0]),
        }
        a.extend([0, 0]);
        self.op(op::UDP, &a)
    }

    /// An echo request from peer `p` to destination choice `dst`, payload choice `len`.
    pub fn ping(self, p: u8, dst: u8, len: u8) -> Script {
        self.op(op::ICMP, &[p, 0, dst, len, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    /// An ICMP error from peer `p` quoting the node's `i`-th latest datagram (header + 8),
    /// of kind choice `kind` (0: fragmentation needed, MTU 576; 2: time exceeded; 3:
    /// redirect to the link's .7; 6: port unreachable), from the peer.
    pub fn icmp_error(self, p: u8, i: u8, kind: u8) -> Script {
        let mut a = vec![p, 0, i, 0, kind];
        match kind {
            0 | 1 | 2 | 5 => a.push(0),
            3 => a.extend([0, 0]),
            7 => a.extend([0, 0]),
            _ => {}
        }
        a.extend([0, 0, 0]);
        self.op(op::ICMP_ERROR, &a)
    }

    /// A fragment flood-ish datagram: UDP of `len` choice in arbitrary pieces.
    pub fn fragments(self, p: u8, pieces: &[(u8, u16, bool)]) -> Script {
        // ip: peer, src, dst node, UDP, 4000 bytes, port 7, no length lie, checksum, header
        // (ttl, tos, ident, DF, options), arbitrary pieces, intact, node MAC.
        let mut a = vec![p, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0x42, 0, 0, 7];
        a.push(pieces.len() as u8 - 1);
        for &(off8, len, more) in pieces {
            a.push(off8);
            a.extend(len.to_be_bytes());
            a.push(u8::from(more));
        }
        a.extend([0, 0]);
        self.op(op::IP, &a)
    }

    /// A ctl request (choice `req` of the CTL action) with its argument bytes.
    pub fn ctl(self, port: u8, dir: u8, req: u8, args: &[u8]) -> Script {
        let mut a = vec![port, dir, req];
        a.extend_from_slice(args);
        a.push(0);
        self.op(op::CTL, &a)
    }

    /// An application call (choice `call` of the APP action) on worker `w`.
    pub fn app(self, w: u8, call: u8, args: &[u8]) -> Script {
        let mut a = vec![w, call];
        a.extend_from_slice(args);
        self.op(op::APP, &a)
    }
}

/// The seed scripts: (name, target, bytes). Each walks one area with ordinary values, for the
/// fuzzer to mutate from.
pub fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use flags::*;
    vec![
        // A handshake with the HTTP service, two requests, the peer closes first.
        (
            "http",
            "host",
            Script::new(0)
                .tcp_new(0, 0, SYN, Body::Empty)
                .tcp(0, 0, true, ACK, Body::Empty)
                .tcp(0, 0, true, PSH_ACK, Body::Http(0))
                .advance(2)
                .tcp(0, 0, true, ACK, Body::Empty)
                .tcp(0, 0, true, PSH_ACK, Body::Http(1))
                .advance(2)
                .tcp(0, 0, true, ACK, Body::Empty)
                .tcp(0, 0, true, FIN_ACK, Body::Empty)
                .advance(2)
                .tcp(0, 0, true, ACK, Body::Empty)
                .advance(4)
                .0,
        ),
        // The echo service on a two-worker node, 4000 bytes through it, then FIN both ways.
        (
            "echo-two-workers",
            "host",
            Script::new(1)
                .tcp_new(0, 1, SYN, Body::Empty)
                .tcp(0, 0, false, ACK, Body::Empty)
                .tcp(0, 0, false, PSH_ACK, Body::Data(3))
                .advance(2)
                .tcp(0, 0, false, ACK, Body::Empty)
                .advance(3)
                .tcp(0, 0, false, ACK, Body::Empty)
                .tcp(0, 0, false, FIN_ACK, Body::Empty)
                .advance(2)
                .tcp(0, 0, false, ACK, Body::Empty)
                .0,
        ),
        // The node's application connects to the peer (port 5002), the peer accepts, data
        // both ways, the node closes first: FIN-WAIT, TIME-WAIT.
        (
            "active-open",
            "host",
            Script::new(0)
                .app(0, 0, &[0, 0])
                .tcp(0, 0, false, SYN_ACK, Body::Empty)
                .app(0, 1, &[0, 0])
                .advance(2)
                .tcp(0, 0, false, PSH_ACK, Body::Data(0))
                .app(0, 2, &[0])
                .app(0, 3, &[0])
                .advance(2)
                .tcp(0, 0, false, ACK, Body::Empty)
                .tcp(0, 0, false, FIN_ACK, Body::Empty)
                .advance(6)
                .0,
        ),
        // The application's listener (5001): accepted, read, reset by the peer.
        (
            "listener",
            "host",
            Script::new(0)
                .tcp_new(0, 6, SYN, Body::Empty)
                .tcp(0, 0, false, ACK, Body::Data(0))
                .app(0, 6, &[])
                .app(0, 2, &[0])
                .app(0, 1, &[0, 3])
                .advance(2)
                .tcp(0, 0, false, RST, Body::Empty)
                .advance(2)
                .0,
        ),
        // UDP to the services, the application's socket and a closed port; a fragmented echo.
        (
            "udp",
            "host",
            Script::new(0)
                .udp(0, 0, 0, 0, None)
                .udp(0, 0, 1, 0, None)
                .udp(0, 0, 2, 0, None)
                .udp(0, 0, 3, 0, None)
                .udp(0, 0, 4, 0, None)
                .udp(0, 0, 5, 0, None)
                .udp(0, 0, 6, 0, None)
                .udp(0, 0, 0, 7, Some(100))
                .udp(0, 0, 5, 7, Some(60))
                .app(0, 7, &[])
                .advance(4)
                .0,
        ),
        // Fragments: overlapping pieces, a missing piece left to time out, then complete ones.
        (
            "fragments",
            "host",
            Script::new(0)
                .fragments(0, &[(0, 1000, true), (100, 800, true), (120, 3000, false)])
                .fragments(0, &[(0, 800, true)])
                .advance(7)
                .fragments(0, &[(125, 4000, false), (0, 1000, true)])
                .advance(4)
                .0,
        ),
        // Echo requests, the node's own ping, ICMP errors quoting its datagrams.
        (
            "icmp-errors",
            "host",
            Script::new(0)
                .ping(0, 0, 0)
                .ping(0, 1, 0)
                .ctl(0, 0, 6, &[0, 2, 0, 0, 0, 0, 0])
                .advance(4)
                .icmp_error(0, 0, 0)
                .icmp_error(0, 1, 3)
                .icmp_error(0, 0, 2)
                .icmp_error(0, 0, 6)
                .advance(5)
                .0,
        ),
        // ctl: filters, routes, neighbours, a trace, while traffic flows.
        (
            "ctl",
            "host",
            Script::new(0)
                .ctl(0, 0, 0, &[2, 0, 4, 0, 0])
                .ctl(0, 1, 0, &[1, 1, 2, 0])
                .ctl(0, 0, 2, &[0, 0, 1])
                .ctl(0, 0, 4, &[3, 0, 1])
                .ctl(0, 0, 8, &[3])
                .ping(0, 0, 0)
                .udp(0, 0, 0, 0, None)
                .ctl(0, 0, 1, &[0])
                .ctl(0, 0, 3, &[0])
                .ctl(0, 0, 5, &[3])
                .ctl(0, 0, 9, &[])
                .ctl(0, 0, 14, &[])
                .advance(4)
                .0,
        ),
        // IGMP queries, ARP requests and a silent neighbour.
        (
            "igmp-arp",
            "host",
            Script::new(0)
                .op(op::IGMP, &[0, 0, 0, 0, 2, 0, 0, 0, 0])
                .op(op::IGMP, &[0, 0, 0, 1, 20, 0, 0, 0])
                .op(op::ARP, &[0, 0, 0, 0, 0, 0, 0, 0])
                .op(op::ARP, &[0, 1, 0, 1, 0, 1, 1, 0])
                .advance(5)
                .op(op::PEER, &[0, 1])
                .ctl(0, 0, 6, &[3, 2, 0, 0, 0, 0, 0])
                .advance(6)
                .0,
        ),
        // Router: forwarding both ways, TTL expiry, no route, fragmentation for B's smaller MTU.
        (
            "forward",
            "router",
            Script::new(0x08)
                .udp(0, 0, 0, 0, None)
                .udp(1, 0, 0, 0, None)
                .udp(0, 1, 0, 4, None)
                .udp(0, 5, 0, 0, None)
                .ping(0, 0, 0)
                .ping(0, 2, 0)
                .op(
                    op::IP,
                    &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                )
                .advance(4)
                .0,
        ),
        // Router with a configured filter: UDP through it both ways, a redirect to A's own
        // link, an outbound rule added at run time (B to A denied), the inbound one deleted.
        (
            "filters",
            "router",
            Script::new(0x40)
                .udp(0, 0, 0, 0, None)
                .udp(0, 4, 0, 0, None)
                .ctl(0, 1, 0, &[1, 1, 0, 0])
                .udp(1, 0, 0, 0, None)
                .ctl(0, 0, 1, &[0])
                .ping(1, 0, 0)
                .advance(5)
                .0,
        ),
    ]
}
