//! Just enough ARP for a generator (RFC 826, Ethernet/IPv4 only): answering the DUT's requests
//! for the addresses the streams use, and resolving each stream's next hop before the start.

use core::net::Ipv4Addr;

use burst_port::{Batch, PacketBuf, Queue};
use burst_wire::ethernet::MacAddr;

/// An ARP request's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The asker's MAC.
    pub sender_mac: MacAddr,
    /// The asker's address.
    pub sender_ip: Ipv4Addr,
    /// The address asked about.
    pub target: Ipv4Addr,
}

fn ip_at(f: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3])
}

/// An Ethernet/IPv4 ARP packet's opcode and fields (untagged frames only).
fn parse(f: &[u8]) -> Option<(u16, Request)> {
    if f.len() < 42 || f[12..14] != [0x08, 0x06] || f[14..20] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let op = u16::from_be_bytes([f[20], f[21]]);
    Some((
        op,
        Request {
            sender_mac: MacAddr::from_bytes(&f[22..28]),
            sender_ip: ip_at(f, 28),
            target: ip_at(f, 38),
        },
    ))
}

/// The request in `f`, if it is one.
pub fn parse_request(f: &[u8]) -> Option<Request> {
    parse(f).filter(|(op, _)| *op == 1).map(|(_, r)| r)
}

/// The (address, MAC) a reply in `f` announces, if it is one.
pub fn parse_reply(f: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    parse(f)
        .filter(|(op, _)| *op == 2)
        .map(|(_, r)| (r.sender_ip, r.sender_mac))
}

/// Writes a 60-byte reply from `mac` to `req` (padded with zeros).
pub fn write_reply(d: &mut [u8], mac: MacAddr, req: &Request) {
    write(
        d,
        2,
        mac,
        req.target,
        req.sender_mac,
        req.sender_mac,
        req.sender_ip,
    );
}

/// Writes a 60-byte broadcast request from (`mac`, `src`) for `target`.
pub fn write_request(d: &mut [u8], mac: MacAddr, src: Ipv4Addr, target: Ipv4Addr) {
    write(d, 1, mac, src, MacAddr::BROADCAST, MacAddr::ZERO, target);
}

fn write(
    d: &mut [u8],
    op: u16,
    mac: MacAddr,
    ip: Ipv4Addr,
    eth_dst: MacAddr,
    tha: MacAddr,
    tpa: Ipv4Addr,
) {
    d.fill(0);
    d[0..6].copy_from_slice(&eth_dst.0);
    d[6..12].copy_from_slice(&mac.0);
    d[12..14].copy_from_slice(&[0x08, 0x06]);
    d[14..20].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    d[20..22].copy_from_slice(&op.to_be_bytes());
    d[22..28].copy_from_slice(&mac.0);
    d[28..32].copy_from_slice(&ip.octets());
    d[32..38].copy_from_slice(&tha.0);
    d[38..42].copy_from_slice(&tpa.octets());
}

/// One address to resolve: ask on `port` from (`mac`, `src`) for `target`.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    /// Port index.
    pub port: usize,
    /// Our MAC on it.
    pub mac: MacAddr,
    /// Our address (the stream's source).
    pub src: Ipv4Addr,
    /// The next hop.
    pub target: Ipv4Addr,
}

/// Resolves every `want` over `queues` (one per port): sends a request for each unresolved one
/// every time `resend` says so, reads replies, answers requests for `ours` (per port, so a DUT
/// that asks first is answered), and calls `wait` between rounds; `wait` returns false once
/// the deadline has passed. Returns the MACs in `want` order, or the first address nobody
/// answered for.
pub fn resolve<Q: Queue>(
    queues: &mut [Q],
    want: &[Want],
    ours: &[Vec<(Ipv4Addr, MacAddr)>],
    mut resend: impl FnMut() -> bool,
    mut wait: impl FnMut() -> bool,
) -> Result<Vec<MacAddr>, Ipv4Addr> {
    let mut got: Vec<Option<MacAddr>> = vec![None; want.len()];
    let mut rx = Batch::new();
    let mut tx = Batch::new();
    loop {
        if resend() {
            for (w, g) in want.iter().zip(&got) {
                if g.is_some() {
                    continue;
                }
                if let Some(mut b) = queues[w.port].alloc() {
                    if let Some(d) = b.append(60) {
                        write_request(d, w.mac, w.src, w.target);
                        let _ = tx.push(b);
                        queues[w.port].tx_burst(&mut tx);
                        tx.clear();
                    }
                }
            }
        }
        for (pi, q) in queues.iter_mut().enumerate() {
            q.rx_burst(&mut rx);
            for b in rx.drain(..) {
                let f = b.data();
                if let Some((ip, mac)) = parse_reply(f) {
                    for (w, g) in want.iter().zip(got.iter_mut()) {
                        if w.port == pi && w.target == ip {
                            *g = Some(mac);
                        }
                    }
                } else if let Some(req) = parse_request(f) {
                    if let Some(&(_, mac)) = ours[pi].iter().find(|(a, _)| *a == req.target) {
                        let mut out = Batch::new();
                        if let Some(mut o) = q.alloc() {
                            if let Some(d) = o.append(60) {
                                write_reply(d, mac, &req);
                                let _ = out.push(o);
                            }
                        }
                        q.tx_burst(&mut out);
                    }
                }
            }
        }
        if got.iter().all(Option::is_some) {
            return Ok(got.into_iter().flatten().collect());
        }
        if !wait() {
            let i = got.iter().position(Option::is_none).unwrap_or(0);
            return Err(want[i].target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_round_trip() {
        let a = MacAddr::new(2, 0, 0, 0, 0, 1);
        let b = MacAddr::new(2, 0, 0, 0, 0, 2);
        let mut f = [0xa5u8; 60];
        write_request(
            &mut f,
            a,
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 18, 0, 2),
        );
        let req = parse_request(&f).unwrap();
        assert_eq!(req.sender_mac, a);
        assert_eq!(req.target, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(parse_reply(&f), None);
        let mut r = [0xa5u8; 60];
        write_reply(&mut r, b, &req);
        assert_eq!(parse_reply(&r), Some((Ipv4Addr::new(198, 18, 0, 2), b)));
        assert_eq!(&r[0..6], &a.0, "sent back to the asker");
        assert!(r[42..].iter().all(|&x| x == 0), "padding is zero");
    }
}
