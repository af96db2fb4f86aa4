//! UDP (RFC 768) for one core: a socket table demultiplexed by hash (no scan per datagram),
//! bounded receive queues holding the received buffers themselves (zero-copy), readiness
//! events, the simple TCP/IP services of the seeds over UDP (echo, discard, daytime, quote of
//! the day, character generator), and TCP/IP filtering (seed 000).

use core::net::Ipv4Addr;
use std::collections::VecDeque;

use burst_port::map::HashMap;
use burst_port::PacketBuf;

/// A socket's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// The built-in simple services (RFC 862, 863, 867, 865, 864).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Port 7: returns what it receives.
    Echo,
    /// Port 9: drops what it receives.
    Discard,
    /// Port 13: the date and time as text.
    Daytime,
    /// Port 17: a short message.
    Qotd,
    /// Port 19: a pattern of printable characters.
    Chargen,
}

impl Service {
    /// The well-known port.
    pub const fn port(self) -> u16 {
        match self {
            Service::Echo => 7,
            Service::Discard => 9,
            Service::Daytime => 13,
            Service::Qotd => 17,
            Service::Chargen => 19,
        }
    }
}

/// Why a socket call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// Another socket is bound to that address and port.
    AddrInUse,
    /// The socket table is full.
    TableFull,
    /// No such socket.
    NotFound,
}

impl core::fmt::Display for UdpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UdpError::AddrInUse => "address in use",
            UdpError::TableFull => "socket table full",
            UdpError::NotFound => "no such socket",
        })
    }
}

/// A received datagram waiting in a socket: the buffer it arrived in and where its payload is.
#[derive(Debug)]
pub struct Received<B> {
    /// Sender address and port.
    pub from: (Ipv4Addr, u16),
    /// Destination address it was sent to (ours, a broadcast or a group).
    pub to: Ipv4Addr,
    /// The received frame: one buffer, or a chain (a datagram reassembled from fragments).
    pub buf: B,
    /// Payload offset from the start of the frame (across the chain's segments).
    pub offset: usize,
    /// Payload length.
    pub len: usize,
}

impl<B: PacketBuf> Received<B> {
    /// The payload, when it is in one segment (always, unless the datagram was reassembled).
    pub fn payload(&self) -> Option<&[u8]> {
        self.buf.data().get(self.offset..self.offset + self.len)
    }

    /// Copies the payload (from however many segments it spans) into `out`; returns the bytes
    /// copied (at most `out.len()`).
    pub fn copy_payload(&self, out: &mut [u8]) -> usize {
        let mut skip = self.offset;
        let mut n = 0;
        let want = self.len.min(out.len());
        for seg in self.buf.segments() {
            if n == want {
                break;
            }
            if skip >= seg.len() {
                skip -= seg.len();
                continue;
            }
            let take = (seg.len() - skip).min(want - n);
            out[n..n + take].copy_from_slice(&seg[skip..skip + take]);
            n += take;
            skip = 0;
        }
        n
    }
}

/// One socket.
#[derive(Debug)]
pub struct UdpSocket<B> {
    /// Local address (unspecified = any of ours) and port.
    pub local: (Ipv4Addr, u16),
    /// Connected peer, if any: only its datagrams are accepted.
    pub remote: Option<(Ipv4Addr, u16)>,
    /// The service answering on this socket, if it is a built-in one.
    pub service: Option<Service>,
    rx: VecDeque<Received<B>>,
    rx_cap: usize,
    /// Datagrams dropped because the receive queue was full.
    pub rx_dropped: u64,
    /// Datagrams delivered.
    pub rx_datagrams: u64,
}

/// UDP counters (the `netstat -s` UDP section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpStats {
    /// Datagrams delivered to a socket or service.
    pub in_datagrams: u64,
    /// Datagrams to a port nobody listens on (a port unreachable was sent when allowed).
    pub no_ports: u64,
    /// Datagrams dropped: malformed or bad checksum.
    pub in_errors: u64,
    /// Datagrams dropped: a socket's receive queue was full.
    pub rcvbuf_errors: u64,
    /// Datagrams sent.
    pub out_datagrams: u64,
    /// Datagrams dropped by TCP/IP filtering.
    pub filtered: u64,
    /// Datagrams dropped: the sockets together held their share of the worker's buffers.
    pub drop_budget: u64,
}

impl UdpStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("in_datagrams", self.in_datagrams),
            ("no_ports", self.no_ports),
            ("in_errors", self.in_errors),
            ("rcvbuf_errors", self.rcvbuf_errors),
            ("out_datagrams", self.out_datagrams),
            ("filtered", self.filtered),
            ("drop_budget", self.drop_budget),
        ]
    }
}

/// The per-core socket table.
#[derive(Debug)]
pub struct UdpSockets<B> {
    sockets: Vec<Option<UdpSocket<B>>>,
    by_port: HashMap<u16, smallvec::SmallVec<[u32; 2]>>,
    ready: VecDeque<SocketId>,
    rx_cap: usize,
    /// Datagrams queued on all sockets, and the most that may be (the worker's buffer budget
    /// for sockets).
    queued: usize,
    max_queued: usize,
    /// Counters.
    pub stats: UdpStats,
}

impl<B> UdpSockets<B> {
    /// A table of at most `max_sockets` sockets, each queueing up to `rx_cap` datagrams.
    pub fn new(max_sockets: usize, rx_cap: usize) -> Self {
        UdpSockets {
            sockets: (0..max_sockets).map(|_| None).collect(),
            by_port: HashMap::with_capacity_and_hasher(max_sockets, Default::default()),
            ready: VecDeque::with_capacity(max_sockets),
            rx_cap,
            queued: 0,
            max_queued: usize::MAX,
            stats: UdpStats::default(),
        }
    }

    /// Bounds the datagrams queued on all sockets together (each holds a packet buffer): the
    /// sockets' share of the worker's buffers, so a flood to a socket nobody reads cannot take
    /// the buffers receive needs.
    pub fn set_max_queued(&mut self, n: usize) {
        self.max_queued = n;
    }

    /// Binds a socket to `addr` (unspecified = any) and `port`.
    pub fn bind(&mut self, addr: Ipv4Addr, port: u16) -> Result<SocketId, UdpError> {
        if let Some(ids) = self.by_port.get(&port) {
            for &i in ids {
                let s = self.sockets[i as usize]
                    .as_ref()
                    .expect("indexed sockets exist");
                if s.local.0 == addr || s.local.0.is_unspecified() || addr.is_unspecified() {
                    return Err(UdpError::AddrInUse);
                }
            }
        }
        let i = self
            .sockets
            .iter()
            .position(Option::is_none)
            .ok_or(UdpError::TableFull)?;
        self.sockets[i] = Some(UdpSocket {
            local: (addr, port),
            remote: None,
            service: None,
            rx: VecDeque::with_capacity(self.rx_cap),
            rx_cap: self.rx_cap,
            rx_dropped: 0,
            rx_datagrams: 0,
        });
        self.by_port.entry(port).or_default().push(i as u32);
        Ok(SocketId(i as u32))
    }

    /// Binds a built-in service on its well-known port (any address).
    pub fn bind_service(&mut self, service: Service) -> Result<SocketId, UdpError> {
        let id = self.bind(Ipv4Addr::UNSPECIFIED, service.port())?;
        self.get_mut(id)?.service = Some(service);
        Ok(id)
    }

    /// Accepts only datagrams from `remote` on this socket.
    pub fn connect(&mut self, id: SocketId, remote: (Ipv4Addr, u16)) -> Result<(), UdpError> {
        self.get_mut(id)?.remote = Some(remote);
        Ok(())
    }

    /// Closes a socket (queued datagrams are dropped, their buffers freed).
    pub fn close(&mut self, id: SocketId) -> Result<(), UdpError> {
        let s = self
            .sockets
            .get_mut(id.0 as usize)
            .and_then(Option::take)
            .ok_or(UdpError::NotFound)?;
        self.queued -= s.rx.len();
        if let Some(v) = self.by_port.get_mut(&s.local.1) {
            v.retain(|i| *i != id.0);
            if v.is_empty() {
                self.by_port.remove(&s.local.1);
            }
        }
        self.ready.retain(|r| *r != id);
        Ok(())
    }

    /// A socket.
    pub fn get(&self, id: SocketId) -> Result<&UdpSocket<B>, UdpError> {
        self.sockets
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(UdpError::NotFound)
    }

    fn get_mut(&mut self, id: SocketId) -> Result<&mut UdpSocket<B>, UdpError> {
        self.sockets
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(UdpError::NotFound)
    }

    /// The socket a datagram to `to:port` from `from` goes to: a connected socket matching the
    /// sender first, then one bound to that address, then a wildcard one.
    pub fn lookup(&self, to: Ipv4Addr, port: u16, from: (Ipv4Addr, u16)) -> Option<SocketId> {
        let ids = self.by_port.get(&port)?;
        let mut best: Option<(u8, u32)> = None;
        for &i in ids {
            let s = self.sockets[i as usize].as_ref()?;
            let addr_ok = s.local.0.is_unspecified() || s.local.0 == to;
            if !addr_ok {
                continue;
            }
            let score = match s.remote {
                Some(r) if r == from => 3,
                Some(_) => continue,
                None if s.local.0 == to => 2,
                None => 1,
            };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| SocketId(i))
    }

    /// Queues a received datagram on a socket; gives the buffer back when the queue is full.
    pub fn deliver(&mut self, id: SocketId, d: Received<B>) -> Result<(), Received<B>> {
        let full = self.queued >= self.max_queued;
        let Ok(s) = self.get_mut(id) else {
            return Err(d);
        };
        if s.rx.len() >= s.rx_cap {
            s.rx_dropped += 1;
            self.stats.rcvbuf_errors += 1;
            return Err(d);
        }
        if full {
            s.rx_dropped += 1;
            self.stats.drop_budget += 1;
            return Err(d);
        }
        let was_empty = s.rx.is_empty();
        s.rx.push_back(d);
        s.rx_datagrams += 1;
        self.queued += 1;
        self.stats.in_datagrams += 1;
        if was_empty {
            self.ready.push_back(id);
        }
        Ok(())
    }

    /// The next datagram queued on a socket.
    pub fn recv_from(&mut self, id: SocketId) -> Option<Received<B>> {
        let s = self.get_mut(id).ok()?;
        let d = s.rx.pop_front()?;
        self.queued -= 1;
        Some(d)
    }

    /// The next socket that became readable (each readable socket is listed once until it is
    /// drained; no scan of all sockets).
    pub fn next_ready(&mut self) -> Option<SocketId> {
        while let Some(id) = self.ready.pop_front() {
            if self.get(id).is_ok_and(|s| !s.rx.is_empty()) {
                return Some(id);
            }
        }
        None
    }

    /// Every open socket, for `netstat -a -u`.
    pub fn sockets(&self) -> impl Iterator<Item = (SocketId, &UdpSocket<B>)> {
        self.sockets
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (SocketId(i as u32), s)))
    }
}

/// The characters RFC 864's generator rotates through: printable ASCII, 72 per line.
pub fn chargen(start: usize, out: &mut [u8]) -> usize {
    const LINE: usize = 72;
    let mut n = 0;
    let mut line = start;
    while n + LINE + 2 <= out.len() {
        for k in 0..LINE {
            out[n + k] = 33 + ((line + k) % 95) as u8;
        }
        out[n + LINE] = b'\r';
        out[n + LINE + 1] = b'\n';
        n += LINE + 2;
        line += 1;
    }
    n
}

/// RFC 867's suggested daytime form, e.g. `Tuesday, February 22, 1982 17:37:43-UTC` and CR LF,
/// written into `out` (48 bytes always suffice); returns the length written. No allocation.
pub fn daytime(unix_secs: u64, out: &mut [u8]) -> usize {
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let mut w = Writer { buf: out, len: 0 };
    use core::fmt::Write as _;
    let _ = write!(
        w,
        "{}, {} {}, {} {:02}:{:02}:{:02}-UTC\r\n",
        DAYS[((days + 4) % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    w.len
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `fmt::Write` into a byte slice; stops (with an error) when the slice is full.
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// TCP/IP filtering (seed 000): which traffic to this host is accepted. `None` permits all; a
/// list permits only those values. Everything else is dropped silently and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtering {
    /// Permitted TCP destination ports.
    pub tcp_ports: Option<Vec<u16>>,
    /// Permitted UDP destination ports.
    pub udp_ports: Option<Vec<u16>>,
    /// Permitted IP protocols.
    pub protocols: Option<Vec<u8>>,
}

impl Filtering {
    /// Whether a datagram of `protocol` is accepted at all.
    pub fn protocol_ok(&self, protocol: u8) -> bool {
        self.protocols
            .as_ref()
            .is_none_or(|v| v.contains(&protocol))
    }
    /// Whether a UDP datagram to `port` is accepted.
    pub fn udp_ok(&self, port: u16) -> bool {
        self.udp_ports.as_ref().is_none_or(|v| v.contains(&port))
    }
    /// Whether a TCP segment to `port` is accepted.
    pub fn tcp_ok(&self, port: u16) -> bool {
        self.tcp_ports.as_ref().is_none_or(|v| v.contains(&port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(from: u16) -> Received<u32> {
        Received {
            from: (Ipv4Addr::new(198, 18, 0, 1), from),
            to: Ipv4Addr::new(198, 18, 0, 2),
            buf: u32::from(from),
            offset: 42,
            len: 4,
        }
    }

    #[test]
    fn bind_demux_queue_and_readiness() {
        let mut t: UdpSockets<u32> = UdpSockets::new(8, 2);
        let any = t.bind(Ipv4Addr::UNSPECIFIED, 5000).unwrap();
        assert_eq!(
            t.bind(Ipv4Addr::new(198, 18, 0, 2), 5000),
            Err(UdpError::AddrInUse)
        );
        let me = Ipv4Addr::new(198, 18, 0, 2);
        let peer = (Ipv4Addr::new(198, 18, 0, 1), 7000);
        assert_eq!(t.lookup(me, 5000, peer), Some(any));
        assert_eq!(t.lookup(me, 5001, peer), None);
        let svc = t.bind_service(Service::Echo).unwrap();
        assert_eq!(t.lookup(me, 7, peer), Some(svc));
        assert_eq!(t.get(svc).unwrap().service, Some(Service::Echo));
        // Queue bound, readiness listed once.
        t.deliver(any, rx(1)).unwrap();
        t.deliver(any, rx(2)).unwrap();
        assert!(t.deliver(any, rx(3)).is_err());
        assert_eq!(t.stats.rcvbuf_errors, 1);
        assert_eq!(t.next_ready(), Some(any));
        assert_eq!(t.next_ready(), None);
        assert_eq!(t.recv_from(any).unwrap().buf, 1);
        assert_eq!(t.recv_from(any).unwrap().buf, 2);
        assert!(t.recv_from(any).is_none());
        // Connected sockets win for their peer only.
        t.close(any).unwrap();
        let a = t.bind(me, 6000).unwrap();
        t.connect(a, peer).unwrap();
        assert_eq!(t.lookup(me, 6000, peer), Some(a));
        assert_eq!(t.lookup(me, 6000, (peer.0, 1)), None);
        t.close(a).unwrap();
        assert_eq!(t.close(a), Err(UdpError::NotFound));
        assert_eq!(t.sockets().count(), 1);
    }

    #[test]
    fn services_text() {
        // 2026-11-21 09:00:00 UTC.
        let mut t = [0u8; 64];
        let n = daytime(1_795_251_600, &mut t);
        assert_eq!(&t[..n], b"Saturday, November 21, 2026 09:00:00-UTC\r\n");
        let n = daytime(0, &mut t);
        assert_eq!(&t[..n], b"Thursday, January 1, 1970 00:00:00-UTC\r\n");
        let n = daytime(951_782_400 + 3_661, &mut t); // leap day 2000
        assert_eq!(&t[..n], b"Tuesday, February 29, 2000 01:01:01-UTC\r\n");
        let mut b = [0u8; 200];
        let n = chargen(0, &mut b);
        assert_eq!(n, 148);
        assert_eq!(&b[..4], b"!\"#$");
        assert_eq!(&b[72..76], b"\r\n\"#");
        assert!(b[..n]
            .iter()
            .all(|&c| (32..127).contains(&c) || c == b'\r' || c == b'\n'));
    }

    #[test]
    fn filtering_permits_only_listed() {
        let f = Filtering {
            udp_ports: Some(vec![7, 53]),
            protocols: Some(vec![1, 17]),
            tcp_ports: None,
        };
        assert!(f.udp_ok(7) && !f.udp_ok(9));
        assert!(f.protocol_ok(17) && !f.protocol_ok(6));
        assert!(f.tcp_ok(80));
        assert!(Filtering::default().udp_ok(1) && Filtering::default().protocol_ok(99));
    }
}
