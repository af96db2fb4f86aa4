//! Two burst `TcpStack`s in one thread, joined by an in-memory link of fixed frame buffers.
//!
//! Every segment `poll_transmit` yields is written straight into a free link buffer (payload
//! first, then the TCP, IPv4 and Ethernet headers in front of it, software checksums), queued
//! on the link, and on the other side parsed back from the bytes (Ethernet and IPv4 views with
//! the IPv4 header checksum verified, `tcp::Repr::parse` with `ChecksumCheck::Verify`) before it
//! goes to `on_segment`. The link is a LIFO free list of 2 KiB buffers (like an mbuf cache)
//! and a FIFO per direction: no allocation, no copy besides the stacks' own.
//! (`burst_port::mem`'s `MemPort`/`Wire` is not used: it takes a mutex per call, orders frames
//! in a heap for its impairments and verifies checksums again in its NIC emulation, which
//! would measure the emulator rather than the stack.)

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Instant;

use burst_port::Nanos;
use burst_tcp::{SocketHandle, StackConfig, State, TcpStack};
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp;
use burst_wire::{ChecksumCheck, ChecksumMode};

use crate::{
    pattern, BulkResult, CpsResult, PATTERN_PERIOD, PORT, RECV_BUFFER, REQUEST, RESPONSE,
    SEND_BUFFER, STEP_MICROS,
};

/// The client's address and MAC.
const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const A_MAC: MacAddr = MacAddr::new(2, 0, 0, 0, 0, 1);
/// The server's address and MAC.
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B_MAC: MacAddr = MacAddr::new(2, 0, 0, 0, 0, 2);

/// Size of one link buffer (an mbuf's 2 KiB data room).
const SLOT: usize = 2048;
/// Where `poll_transmit` writes the payload: room for the largest headers in front of it.
const HEADROOM: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + tcp::MAX_HEADER_LEN;
/// Link buffers; windows of 64 KiB keep far fewer than this in flight.
const SLOTS: usize = 512;

/// Most pieces of a super-segment in the TSO runs (`[tcp] tso`'s 44: 64 KiB).
const TSO_MAX_SEGS: u16 = 44;

fn config(secret: u8, tso: bool) -> StackConfig {
    let mut cfg = StackConfig {
        secret: [secret; 16],
        mtu: 1500,
        tso_max_segs: if tso { TSO_MAX_SEGS } else { 1 },
        ..StackConfig::default()
    };
    cfg.tcp.recv_buffer = RECV_BUFFER;
    cfg.tcp.send_buffer = SEND_BUFFER;
    cfg
}

/// One end of the link: its stack and addresses.
struct End {
    stack: TcpStack,
    mac: MacAddr,
    peer_mac: MacAddr,
}

impl End {
    fn new(secret: u8, mac: MacAddr, peer_mac: MacAddr, tso: bool) -> End {
        End {
            stack: TcpStack::new(config(secret, tso), Nanos::ZERO),
            mac,
            peer_mac,
        }
    }
}

/// A frame on the link: buffer index and the frame's bytes in it.
#[derive(Clone, Copy)]
struct Frame {
    slot: u16,
    start: u16,
    end: u16,
}

/// The in-memory link: buffers, their free list and one FIFO per direction.
struct Link {
    bufs: Vec<[u8; SLOT]>,
    free: Vec<u16>,
    queues: [VecDeque<Frame>; 2],
    ident: u16,
    frames: u64,
    data_segments: u64,
    bad: u64,
    /// TSO runs: where `poll_transmit` writes a super-segment's payload (up to 64 KiB).
    tso_scratch: Option<Vec<u8>>,
    super_segments: u64,
}

impl Link {
    fn new(tso: bool) -> Link {
        Link {
            tso_scratch: tso.then(|| vec![0; 65536]),
            super_segments: 0,
            bufs: vec![[0; SLOT]; SLOTS],
            free: (0..SLOTS as u16).rev().collect(),
            queues: [
                VecDeque::with_capacity(SLOTS),
                VecDeque::with_capacity(SLOTS),
            ],
            ident: 0,
            frames: 0,
            data_segments: 0,
            bad: 0,
        }
    }

    fn is_idle(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// Emits everything `end` has to send onto direction `dir`; returns the frame count.
    fn transmit(&mut self, end: &mut End, now: Nanos, dir: usize) -> usize {
        if self.tso_scratch.is_some() {
            return self.transmit_tso(end, now, dir);
        }
        let mut n = 0;
        while let Some(slot) = self.free.pop() {
            let buf = &mut self.bufs[usize::from(slot)];
            let Some(t) = end.stack.poll_transmit(now, &mut buf[HEADROOM..]) else {
                self.free.push(slot);
                break;
            };
            self.finish_frame(end, slot, &t.repr, t.src, t.dst, dir);
            n += 1;
        }
        n
    }

    /// [`Link::transmit`] with super-segments: the payload lands in the scratch buffer and is
    /// cut into wire segments as `burst_port::offload`'s software TSO does: per segment a
    /// buffer with a copy of its payload, the headers with the sequence number advanced,
    /// PSH and FIN on the last segment only, CWR on the first only, the IPv4 ID advanced, and
    /// both checksums computed.
    fn transmit_tso(&mut self, end: &mut End, now: Nanos, dir: usize) -> usize {
        let mut scratch = self.tso_scratch.take().expect("TSO link");
        let mut n = 0;
        // Room for the largest super-segment before asking for one.
        while self.free.len() >= usize::from(TSO_MAX_SEGS) {
            let Some(t) = end.stack.poll_transmit(now, &mut scratch) else {
                break;
            };
            let segsz = if t.tso_segsz == 0 {
                t.payload_len.max(1)
            } else {
                self.super_segments += 1;
                usize::from(t.tso_segsz)
            };
            let pieces = t.payload_len.div_ceil(segsz).max(1);
            for i in 0..pieces {
                let off = i * segsz;
                let len = segsz.min(t.payload_len - off);
                let mut r = t.repr;
                r.seq = t.repr.seq + off;
                r.payload_len = len;
                if i + 1 < pieces {
                    r.flags.remove(tcp::Flags::PSH | tcp::Flags::FIN);
                }
                if i > 0 {
                    r.flags.remove(tcp::Flags::CWR);
                }
                let slot = self.free.pop().expect("free buffers were counted");
                let buf = &mut self.bufs[usize::from(slot)];
                buf[HEADROOM..HEADROOM + len].copy_from_slice(&scratch[off..off + len]);
                self.finish_frame(end, slot, &r, t.src, t.dst, dir);
                n += 1;
            }
        }
        self.tso_scratch = Some(scratch);
        n
    }

    /// Writes the TCP, IPv4 and Ethernet headers in front of the payload at `HEADROOM` of
    /// `slot` (software checksums) and queues the frame on direction `dir`.
    fn finish_frame(
        &mut self,
        end: &End,
        slot: u16,
        repr: &tcp::Repr,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dir: usize,
    ) {
        let buf = &mut self.bufs[usize::from(slot)];
        let tcp_at = HEADROOM - repr.header_len();
        let frame_end = HEADROOM + repr.payload_len;
        repr.emit(
            &mut tcp::Packet::new_unchecked(&mut buf[tcp_at..frame_end]),
            src,
            dst,
            ChecksumMode::Compute,
        );
        let ip_at = tcp_at - ipv4::HEADER_LEN;
        self.ident = self.ident.wrapping_add(1);
        let ip = ipv4::Repr {
            ident: self.ident,
            dont_frag: true,
            ..ipv4::Repr::new(src, dst, Protocol::TCP, frame_end - tcp_at, 64)
        };
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut buf[ip_at..frame_end]),
            ChecksumMode::Compute,
        );
        let eth_at = ip_at - ethernet::HEADER_LEN;
        ethernet::Repr {
            src_addr: end.mac,
            dst_addr: end.peer_mac,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut buf[eth_at..]));
        self.queues[dir].push_back(Frame {
            slot,
            start: eth_at as u16,
            end: frame_end as u16,
        });
        self.frames += 1;
        self.data_segments += u64::from(repr.payload_len > 0);
    }

    /// Parses every frame queued on direction `dir` and hands it to `end`; returns the count.
    fn deliver(&mut self, end: &mut End, now: Nanos, dir: usize) -> usize {
        let mut n = 0;
        while let Some(f) = self.queues[dir].pop_front() {
            let bytes = &self.bufs[usize::from(f.slot)][usize::from(f.start)..usize::from(f.end)];
            if !receive(&mut end.stack, end.mac, now, bytes) {
                self.bad += 1;
            }
            self.free.push(f.slot);
            n += 1;
        }
        n
    }
}

/// The receive path of a worker for one frame: checked views, IPv4 header checksum, TCP
/// segment with its checksum verified, then the stack.
fn receive(stack: &mut TcpStack, mac: MacAddr, now: Nanos, bytes: &[u8]) -> bool {
    let Ok(eth) = ethernet::Frame::new_checked(bytes) else {
        return false;
    };
    if eth.dst_addr() != mac || eth.ethertype() != EtherType::IPV4 {
        return false;
    }
    let Ok(ip) = ipv4::Packet::new_checked(eth.payload()) else {
        return false;
    };
    if !ip.verify_checksum() || ip.protocol() != Protocol::TCP || ip.is_fragment() {
        return false;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let Ok(seg) = tcp::Packet::new_checked(ip.payload()) else {
        return false;
    };
    let Ok(repr) = tcp::Repr::parse(&seg, src, dst, ChecksumCheck::Verify) else {
        return false;
    };
    stack.on_segment(now, src, dst, &repr, seg.payload());
    true
}

/// Advances the clock one step, or, when nothing moved, to the earliest timer; runs timers
/// that are due. Returns whether it jumped.
fn tick(now: &mut Nanos, progress: bool, ends: [&mut End; 2]) -> bool {
    *now += Nanos::from_micros(STEP_MICROS);
    let deadlines = ends.each_ref().map(|e| e.stack.next_deadline());
    let mut jumped = false;
    if !progress {
        if let Some(d) = deadlines.iter().flatten().min() {
            *now = (*now).max(*d);
            jumped = true;
        }
    }
    for (e, d) in ends.into_iter().zip(deadlines) {
        if d.is_some_and(|d| d <= *now) {
            e.stack.poll(*now);
        }
    }
    jumped
}

/// Reads everything queued on `h` without copying; returns the byte count. With `expect`, the
/// bytes are compared with the pattern from stream offset `at`.
fn drain_reads(s: &mut TcpStack, h: SocketHandle, at: u64, expect: Option<&[u8]>) -> u64 {
    let mut got = 0u64;
    loop {
        let chunk = s.peek(h).expect("open socket");
        let n = chunk.len();
        if n == 0 {
            return got;
        }
        if let Some(p) = expect {
            let off = ((at + got) % PATTERN_PERIOD as u64) as usize;
            assert!(chunk == &p[off..off + n], "corrupt data at {}", at + got);
        }
        s.consume(h, n).expect("open socket");
        got += n as u64;
    }
}

/// `total` bytes from client to server; the client writes whenever there is send-buffer room,
/// the server reads everything each round.
/// With `tso`, the stacks send super-segments ([`StackConfig::tso_max_segs`]) and the link
/// segments them in software the way the port layer's TSO fallback does (one copy and one
/// checksum per wire segment); every wire segment is still parsed and verified.
pub(crate) fn bulk(total: u64, check: bool, tso: bool) -> BulkResult {
    let mut client = End::new(1, A_MAC, B_MAC, tso);
    let mut server = End::new(2, B_MAC, A_MAC, tso);
    let mut link = Link::new(tso);
    let data = pattern();
    let listener = server.stack.listen(None, PORT, 16).expect("listen");
    let mut now = Nanos::ZERO;
    let mut jumps = 0u64;

    let start = Instant::now();
    let ch = client.stack.connect(now, A, (B, PORT)).expect("connect");
    let mut sh = None;
    let (mut sent, mut received) = (0u64, 0u64);
    let rounds = total / 100 + 100_000;
    for _ in 0..rounds {
        let mut progress = false;
        while client.stack.take_ready().is_some() {}
        while sent < total {
            let off = (sent % PATTERN_PERIOD as u64) as usize;
            let want = (total - sent).min(PATTERN_PERIOD as u64) as usize;
            let n = client.stack.send(ch, &data[off..off + want]).expect("send");
            if n == 0 {
                break;
            }
            sent += n as u64;
            progress = true;
        }
        progress |= link.transmit(&mut client, now, 0) > 0;
        progress |= link.deliver(&mut server, now, 0) > 0;

        while server.stack.take_ready().is_some() {}
        if sh.is_none() {
            sh = server.stack.accept(listener);
        }
        if let Some(h) = sh {
            let got = drain_reads(&mut server.stack, h, received, check.then_some(&data[..]));
            received += got;
            progress |= got > 0;
        }
        progress |= link.transmit(&mut server, now, 1) > 0;
        progress |= link.deliver(&mut client, now, 1) > 0;
        if received >= total {
            break;
        }
        jumps += u64::from(tick(&mut now, progress, [&mut client, &mut server]));
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(received, total, "transfer did not finish");
    assert_eq!(link.bad, 0, "frames failed to parse");
    if tso {
        assert!(link.super_segments > 0, "no super-segments");
    }
    BulkResult {
        bytes: received,
        secs,
        super_segments: link.super_segments,
        data_segments: link.data_segments,
        frames: link.frames,
        jumps,
    }
}

/// `n` sequential connections: connect, a `REQUEST`-byte request, a `RESPONSE`-byte response
/// and the server's close (FIN after the response), the client's close once it has read it
/// all. The server ends in TIME-WAIT; the virtual clock then jumps past TIME-WAIT (default
/// 240 s) so every connection starts with empty tables, as with smoltcp's single sockets.
pub(crate) fn cps(n: u64) -> CpsResult {
    let mut client = End::new(1, A_MAC, B_MAC, false);
    let mut server = End::new(2, B_MAC, A_MAC, false);
    let mut link = Link::new(false);
    let listener = server.stack.listen(None, PORT, 128).expect("listen");
    let time_wait = server.stack.config().tcp.time_wait + Nanos::from_secs(1);
    let request = [b'q'; REQUEST];
    let response = [b'r'; RESPONSE];
    let mut now = Nanos::ZERO;
    let mut jumps = 0u64;

    let start = Instant::now();
    for i in 0..n {
        let ch = client.stack.connect(now, A, (B, PORT)).expect("connect");
        let mut sh: Option<SocketHandle> = None;
        let (mut req_sent, mut client_closed, mut server_closed) = (false, false, false);
        let (mut req_got, mut resp_got) = (0u64, 0u64);
        let mut done = false;
        for _ in 0..100_000 {
            let mut progress = false;
            while client.stack.take_ready().is_some() {}
            if !client_closed {
                if !req_sent && client.stack.state(ch) == Ok(State::Established) {
                    assert_eq!(client.stack.send(ch, &request), Ok(REQUEST));
                    req_sent = true;
                    progress = true;
                }
                let got = drain_reads(&mut client.stack, ch, resp_got, None);
                resp_got += got;
                progress |= got > 0;
                if resp_got == RESPONSE as u64 && client.stack.is_read_closed(ch) == Ok(true) {
                    client.stack.close(ch).expect("close");
                    client_closed = true;
                    progress = true;
                }
            }
            progress |= link.transmit(&mut client, now, 0) > 0;
            progress |= link.deliver(&mut server, now, 0) > 0;

            while server.stack.take_ready().is_some() {}
            if sh.is_none() {
                sh = server.stack.accept(listener);
            }
            if let (Some(h), false) = (sh, server_closed) {
                let got = drain_reads(&mut server.stack, h, req_got, None);
                req_got += got;
                progress |= got > 0;
                if req_got == REQUEST as u64 {
                    assert_eq!(server.stack.send(h, &response), Ok(RESPONSE));
                    server.stack.close(h).expect("close");
                    server_closed = true;
                    progress = true;
                }
            }
            progress |= link.transmit(&mut server, now, 1) > 0;
            progress |= link.deliver(&mut client, now, 1) > 0;
            if client_closed && server_closed && client.stack.is_empty() && link.is_idle() {
                done = true;
                break;
            }
            jumps += u64::from(tick(&mut now, progress, [&mut client, &mut server]));
        }
        assert!(done, "connection {i} did not complete");
        // The server's side is in TIME-WAIT: let it expire.
        now += time_wait;
        server.stack.poll(now);
        client.stack.poll(now);
        link.transmit(&mut server, now, 1);
        link.transmit(&mut client, now, 0);
        assert!(link.is_idle(), "segments after TIME-WAIT");
        assert!(
            server.stack.is_empty() && client.stack.is_empty(),
            "connection {i} not freed after TIME-WAIT"
        );
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(link.bad, 0, "frames failed to parse");
    CpsResult {
        conns: n,
        secs,
        frames: link.frames,
        jumps,
    }
}
