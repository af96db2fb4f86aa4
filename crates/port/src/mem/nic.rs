//! What the receiving "NIC" of a mem port does to a frame: classify it, verify checksums in
//! software (imitating rx checksum offload) and pick an rx queue (imitating RSS).

use core::net::Ipv4Addr;

use burst_wire::checksum::{self, Accumulator};
use burst_wire::ethernet::{self, EtherType};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{tcp, udp};

use super::pool::MemBuf;
use crate::buf::{ChecksumStatus, PacketBuf, PacketType, RxMeta};
use crate::port::Capabilities;

/// The fields RSS hashes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    /// Source and destination ports, for unfragmented TCP/UDP.
    pub(crate) ports: Option<(u16, u16)>,
}

/// Longest header run the classifier looks at: VLAN-tagged Ethernet, IPv4 with options and
/// the first 8 bytes of the transport header.
const PARSE_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + 60 + 8;

/// The Ethernet header length of a frame (14, or 18 with a VLAN tag), if it has one.
pub(crate) fn l2_len(buf: &MemBuf) -> Option<usize> {
    let mut hdr = [0u8; ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN];
    let n = buf.pkt_len().min(hdr.len());
    buf.read_at(0, &mut hdr[..n]);
    let f = ethernet::Frame::new_checked(&hdr[..n]).ok()?;
    Some(f.header_len())
}

/// The destination MAC of a frame (zero when the frame is too short to have one).
pub(crate) fn dst_mac(buf: &MemBuf) -> ethernet::MacAddr {
    let mut m = [0u8; 6];
    buf.read_at(0, &mut m);
    ethernet::MacAddr(m)
}

/// The source MAC of a frame (zero when the frame is too short to have one).
pub(crate) fn src_mac(buf: &MemBuf) -> ethernet::MacAddr {
    let mut m = [0u8; 6];
    buf.read_at(6, &mut m);
    ethernet::MacAddr(m)
}

/// Adds the packet bytes `start..end` (across segments) to `acc`.
fn add_range(acc: &mut Accumulator, buf: &MemBuf, mut start: usize, mut end: usize) {
    for s in buf.segments() {
        if end == 0 {
            break;
        }
        let l = s.len();
        if start < l {
            acc.add(&s[start..end.min(l)]);
        }
        start = start.saturating_sub(l);
        end = end.saturating_sub(l);
    }
}

/// Classifies `buf` and, for the offloads `caps` has, verifies its checksums as the NIC would;
/// also returns the flow key RSS hashes over.
pub(crate) fn classify(buf: &MemBuf, caps: &Capabilities) -> (RxMeta, Option<FlowKey>) {
    let mut meta = RxMeta::default();
    let mut hdr = [0u8; PARSE_LEN];
    let n = buf.pkt_len().min(PARSE_LEN);
    buf.read_at(0, &mut hdr[..n]);
    let Ok(frame) = ethernet::Frame::new_checked(&hdr[..n]) else {
        return (meta, None);
    };
    let l2 = frame.header_len();
    match frame.ethertype() {
        EtherType::ARP => meta.packet_type = PacketType::Arp,
        EtherType::IPV4 => {}
        _ => meta.packet_type = PacketType::Other,
    }
    if frame.ethertype() != EtherType::IPV4 {
        return (meta, None);
    }
    let Ok(ip) = ipv4::Packet::new_checked_header(&hdr[l2..n]) else {
        meta.packet_type = PacketType::Other;
        return (meta, None);
    };
    if caps.rx_ipv4_checksum {
        meta.ip_checksum = if ip.verify_checksum() {
            ChecksumStatus::Good
        } else {
            ChecksumStatus::Bad
        };
    }
    let (src, dst, proto) = (ip.src_addr(), ip.dst_addr(), ip.protocol());
    let ihl = ip.header_len();
    let total = usize::from(ip.total_len());
    let l4 = l2 + ihl;
    let whole = total >= ihl && l2 + total <= buf.pkt_len();
    let transport = !ip.is_fragment() && (proto == Protocol::TCP || proto == Protocol::UDP);
    meta.packet_type = match proto {
        Protocol::TCP if transport => PacketType::Ipv4Tcp,
        Protocol::UDP if transport => PacketType::Ipv4Udp,
        _ => PacketType::Ipv4Other,
    };
    let mut key = FlowKey {
        src,
        dst,
        ports: None,
    };
    if !transport || !whole {
        return (meta, Some(key));
    }
    let l4_len = total - ihl;
    let min = if proto == Protocol::TCP {
        tcp::HEADER_LEN
    } else {
        udp::HEADER_LEN
    };
    if l4_len < min {
        return (meta, Some(key));
    }
    let mut ports = [0u8; 8];
    buf.read_at(l4, &mut ports);
    key.ports = Some((
        u16::from_be_bytes([ports[0], ports[1]]),
        u16::from_be_bytes([ports[2], ports[3]]),
    ));
    if caps.rx_l4_checksum {
        // RFC 768: a zero UDP checksum means the sender computed none.
        let none = proto == Protocol::UDP && ports[6] == 0 && ports[7] == 0;
        let mut acc = Accumulator::new();
        acc.add_sum(checksum::pseudo_header(src, dst, proto.0, l4_len as u16));
        add_range(&mut acc, buf, l4, l2 + total);
        meta.l4_checksum = if none || acc.sum() == 0xffff {
            ChecksumStatus::Good
        } else {
            ChecksumStatus::Bad
        };
    }
    (meta, Some(key))
}

/// The port's RSS unit: hashes a frame's flow and picks its rx queue, as the NIC does.
pub(crate) struct Rss {
    queues: u16,
    toeplitz: crate::rss::Toeplitz,
    reta: crate::rss::Reta,
}

impl Rss {
    /// The RSS unit of a port with `queues` rx queues and Toeplitz key `key`.
    pub(crate) fn new(key: &[u8; crate::rss::KEY_LEN], queues: u16) -> Rss {
        Rss {
            queues,
            toeplitz: crate::rss::Toeplitz::new(key),
            reta: crate::rss::Reta::new(queues),
        }
    }

    /// The RSS hash (when the port has RSS) and the rx queue of a frame with flow `key`.
    pub(crate) fn select(&self, caps: &Capabilities, key: Option<FlowKey>) -> (Option<u32>, u16) {
        if !caps.rss {
            // Without RSS a NIC puts everything on queue 0.
            return (None, 0);
        }
        let Some(k) = key else { return (None, 0) };
        let h = match k.ports {
            Some((sp, dp)) => self.toeplitz.hash_ipv4_l4(k.src, k.dst, sp, dp),
            None => self.toeplitz.hash_ipv4(k.src, k.dst),
        };
        (
            Some(h),
            if self.queues > 1 {
                self.reta.queue_for(h)
            } else {
                0
            },
        )
    }
}
