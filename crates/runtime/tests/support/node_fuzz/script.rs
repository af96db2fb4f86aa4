//! Seed scripts: a builder for the encoding `host` and `router` read, and the seeds
//! checked in with the tests.

use super::*;

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
