//! smoltcp 0.14 measured the same way: one `Interface` on its `Loopback` device (Ethernet
//! medium), two TCP sockets (server listening, client connected to the interface's own
//! address), one thread, an `iface.poll` loop on a virtual clock.
//!
//! `Loopback` reports a 65,535-byte MTU and *ignored* checksums; [`Dev`] wraps it to report an
//! MTU of 1500 (1514-byte frames, MSS 1460) and smoltcp's default `ChecksumCapabilities`
//! (IPv4 and TCP checksums computed on transmit and verified on receive, in software), and
//! counts frames and data segments. `Loopback` itself allocates (zeroed) one `Vec` per frame;
//! that is part of what is measured here (see docs/benchmarks.md for its share).

use std::time::Instant;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant as SInstant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::{
    pattern, BulkResult, CpsResult, PATTERN_PERIOD, PORT, RECV_BUFFER, REQUEST, RESPONSE,
    SEND_BUFFER, STEP_MICROS,
};

/// The interface's (and both sockets') address.
const ADDR: IpAddress = IpAddress::v4(198, 18, 0, 1);

/// Frame counts of the device.
#[derive(Default)]
struct Counts {
    frames: u64,
    data_segments: u64,
    queued: usize,
}

/// TCP payload bytes of an Ethernet + IPv4 + TCP frame (0 for anything else).
fn tcp_payload_len(f: &[u8]) -> usize {
    if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
        return 0;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let Some(&doff) = f.get(14 + ihl + 12) else {
        return 0;
    };
    total.saturating_sub(ihl + usize::from(doff >> 4) * 4)
}

/// smoltcp's `Loopback` with a 1500-byte MTU, software checksums and frame counts.
struct Dev {
    inner: Loopback,
    counts: Counts,
}

impl Dev {
    fn new() -> Dev {
        Dev {
            inner: Loopback::new(Medium::Ethernet),
            counts: Counts::default(),
        }
    }
}

struct Rx<'a> {
    inner: <Loopback as Device>::RxToken<'a>,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        self.inner.consume(f)
    }
}

struct Tx<'a> {
    inner: <Loopback as Device>::TxToken<'a>,
    counts: &'a mut Counts,
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let counts = self.counts;
        self.inner.consume(len, |buf| {
            let r = f(buf);
            counts.frames += 1;
            counts.queued += 1;
            counts.data_segments += u64::from(tcp_payload_len(buf) > 0);
            r
        })
    }
}

impl Device for Dev {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, t: SInstant) -> Option<(Rx<'_>, Tx<'_>)> {
        let counts = &mut self.counts;
        self.inner.receive(t).map(|(rx, tx)| {
            counts.queued -= 1;
            (Rx { inner: rx }, Tx { inner: tx, counts })
        })
    }

    fn transmit(&mut self, t: SInstant) -> Option<Tx<'_>> {
        let counts = &mut self.counts;
        self.inner.transmit(t).map(|tx| Tx { inner: tx, counts })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = self.inner.capabilities();
        caps.max_transmission_unit = 1514;
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}

fn at(micros: u64) -> SInstant {
    SInstant::from_micros(micros as i64)
}

fn socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; RECV_BUFFER]),
        tcp::SocketBuffer::new(vec![0; SEND_BUFFER]),
    )
}

/// The device, the interface, the socket set and the two sockets.
struct Net {
    dev: Dev,
    iface: Interface,
    sockets: SocketSet<'static>,
    server: SocketHandle,
    client: SocketHandle,
    now: u64,
    jumps: u64,
}

impl Net {
    fn new() -> Net {
        let mut dev = Dev::new();
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ])));
        cfg.random_seed = 1;
        let mut iface = Interface::new(cfg, &mut dev, at(0));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(ADDR, 15)).expect("one address");
        });
        let mut sockets = SocketSet::new(Vec::with_capacity(2));
        let server = sockets.add(socket());
        let client = sockets.add(socket());
        Net {
            dev,
            iface,
            sockets,
            server,
            client,
            now: 0,
            jumps: 0,
        }
    }

    /// One `iface.poll`; returns whether any frame moved.
    fn poll(&mut self) -> bool {
        let before = (self.dev.counts.frames, self.dev.counts.queued);
        self.iface
            .poll(at(self.now), &mut self.dev, &mut self.sockets);
        before != (self.dev.counts.frames, self.dev.counts.queued)
    }

    /// Advances the clock one step, or, when nothing moved, to smoltcp's next poll time.
    fn tick(&mut self, progress: bool) {
        self.now += STEP_MICROS;
        if !progress && self.dev.counts.queued == 0 {
            if let Some(d) = self.iface.poll_delay(at(self.now), &self.sockets) {
                self.now += d.total_micros();
                self.jumps += 1;
            }
        }
    }

    fn connect(&mut self, local_port: u16) {
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket<'_>>(self.client)
            .connect(cx, (ADDR, PORT), local_port)
            .expect("connect");
    }

    fn server(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.server)
    }

    fn client(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.client)
    }
}

/// Reads everything queued without copying (smoltcp's `recv` closure on the ring); returns
/// the byte count. With `expect`, compares with the pattern from stream offset `from`.
fn drain_reads(s: &mut tcp::Socket<'_>, from: u64, expect: Option<&[u8]>) -> u64 {
    let mut got = 0u64;
    while s.can_recv() {
        let n = s
            .recv(|chunk| {
                if let Some(p) = expect {
                    let off = ((from + got) % PATTERN_PERIOD as u64) as usize;
                    assert!(
                        chunk == &p[off..off + chunk.len()],
                        "corrupt data at {}",
                        from + got
                    );
                }
                (chunk.len(), chunk.len())
            })
            .expect("recv");
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    got
}

/// `total` bytes from client to server, as `burst::bulk`.
pub(crate) fn bulk(total: u64, check: bool) -> BulkResult {
    let mut net = Net::new();
    let data = pattern();
    net.server().listen(PORT).expect("listen");

    let start = Instant::now();
    net.connect(49152);
    let (mut sent, mut received) = (0u64, 0u64);
    let rounds = total / 100 + 100_000;
    for _ in 0..rounds {
        let mut progress = net.poll();
        let got = drain_reads(net.server(), received, check.then_some(&data[..]));
        received += got;
        progress |= got > 0;
        let c = net.client();
        while sent < total && c.can_send() {
            let off = (sent % PATTERN_PERIOD as u64) as usize;
            let want = (total - sent).min(PATTERN_PERIOD as u64) as usize;
            let n = c.send_slice(&data[off..off + want]).expect("send");
            if n == 0 {
                break;
            }
            sent += n as u64;
            progress = true;
        }
        if received >= total {
            break;
        }
        net.tick(progress);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(received, total, "transfer did not finish");
    BulkResult {
        bytes: received,
        super_segments: 0,
        secs,
        data_segments: net.dev.counts.data_segments,
        frames: net.dev.counts.frames,
        jumps: net.jumps,
    }
}

/// `n` sequential connections, as `burst::cps`: the server socket closes after its response
/// and waits out TIME-WAIT (smoltcp's is 10 s) before it listens again, so the virtual clock
/// jumps 11 s after each connection; the client uses a new source port each time.
pub(crate) fn cps(n: u64) -> CpsResult {
    let mut net = Net::new();
    let request = [b'q'; REQUEST];
    let response = [b'r'; RESPONSE];

    let start = Instant::now();
    for i in 0..n {
        net.server().listen(PORT).expect("listen");
        net.connect(49152 + (i % 16384) as u16);
        let (mut req_sent, mut client_closed, mut server_closed) = (false, false, false);
        let (mut req_got, mut resp_got) = (0u64, 0u64);
        let mut done = false;
        for _ in 0..100_000 {
            let mut progress = net.poll();
            let s = net.server();
            if !server_closed {
                let got = drain_reads(s, req_got, None);
                req_got += got;
                progress |= got > 0;
                if req_got == REQUEST as u64 {
                    assert_eq!(s.send_slice(&response), Ok(RESPONSE));
                    s.close();
                    server_closed = true;
                    progress = true;
                }
            }
            let c = net.client();
            if !client_closed {
                if !req_sent && c.state() == tcp::State::Established {
                    assert_eq!(c.send_slice(&request), Ok(REQUEST));
                    req_sent = true;
                    progress = true;
                }
                let got = drain_reads(c, resp_got, None);
                resp_got += got;
                progress |= got > 0;
                if resp_got == RESPONSE as u64 && c.state() == tcp::State::CloseWait {
                    c.close();
                    client_closed = true;
                    progress = true;
                }
            }
            if client_closed
                && net.client().state() == tcp::State::Closed
                && net.dev.counts.queued == 0
            {
                done = true;
                break;
            }
            net.tick(progress);
        }
        assert!(done, "connection {i} did not complete");
        // The server socket is in TIME-WAIT: let it expire.
        net.now += Duration::from_secs(11).total_micros();
        net.poll();
        assert_eq!(
            net.server().state(),
            tcp::State::Closed,
            "connection {i}: server not closed after TIME-WAIT"
        );
    }
    let secs = start.elapsed().as_secs_f64();
    CpsResult {
        conns: n,
        secs,
        frames: net.dev.counts.frames,
        jumps: net.jumps,
    }
}
