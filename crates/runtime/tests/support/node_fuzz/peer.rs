//! The scripted peers: hosts on the node's links that send what the script builds, record
//! what the node sends, and track the TCP connections the node opened with them.

use super::*;

/// A TCP connection as a peer tracks it from the segments the node sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tcb {
    pub(super) peer_ip: Ipv4Addr,
    pub(super) peer_port: u16,
    pub(super) node_port: u16,
    /// The peer's next sequence number.
    pub(super) peer_nxt: u32,
    /// The node's next sequence number (what to acknowledge).
    pub(super) node_nxt: u32,
    /// The node's last acknowledgment.
    pub(super) node_ack: u32,
}

/// A host on one of the node's links: sends what the script builds, records what the node
/// sends, answers ARP (and echo requests) when told to.
pub(super) struct Peer {
    pub(super) q: MemQueue,
    pub(super) _port: MemPort,
    pub(super) ep: usize,
    pub(super) mac: MacAddr,
    pub(super) ip: Ipv4Addr,
    pub(super) node_mac: MacAddr,
    pub(super) node_ip: Ipv4Addr,
    /// The link's prefix (the peer answers ARP for every address of it but the node's).
    pub(super) net: [u8; 3],
    pub(super) answer_arp: bool,
    pub(super) answer_echo: bool,
    pub(super) tcbs: VecDeque<Tcb>,
    /// The last IPv4 datagrams the node sent (for ICMP errors quoting them).
    pub(super) from_node: VecDeque<Vec<u8>>,
    pub(super) frames_in: u64,
}

impl Peer {
    pub(super) fn send(&mut self, frame: &[u8]) {
        let Some(mut b) = self.q.alloc() else { return };
        let Some(d) = b.append(frame.len()) else {
            return;
        };
        d.copy_from_slice(frame);
        let mut batch = Batch::new();
        let _ = batch.push(b);
        self.q.tx_burst(&mut batch);
    }

    pub(super) fn send_ip(&mut self, dst_mac: MacAddr, datagrams: Vec<Vec<u8>>) {
        for d in datagrams {
            let f = eth(dst_mac, self.mac, EtherType::IPV4, &d);
            self.send(&f);
        }
    }

    /// A MAC for each address the peer answers for.
    pub(super) fn mac_for(&self, ip: Ipv4Addr) -> MacAddr {
        if ip == self.ip {
            self.mac
        } else {
            let o = ip.octets();
            MacAddr::new(0x02, 0x77, o[0], o[1], o[2], o[3])
        }
    }

    pub(super) fn tcb(
        &mut self,
        peer_ip: Ipv4Addr,
        peer_port: u16,
        node_port: u16,
    ) -> Option<&mut Tcb> {
        self.tcbs
            .iter_mut()
            .find(|t| t.peer_ip == peer_ip && t.peer_port == peer_port && t.node_port == node_port)
    }

    /// Takes what the node sent: records it, answers ARP and echo requests.
    pub(super) fn receive(&mut self) -> usize {
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

    pub(super) fn observe(&mut self, f: &[u8]) {
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

    pub(super) fn observe_ip(&mut self, d: &[u8]) {
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
