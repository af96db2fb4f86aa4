//! Software offload fallbacks: results equal burst_wire's `ChecksumMode::Compute` emit, TSO
//! segments verify and reassemble, no buffer leaks, batch overflow resumes, verify_rx verdicts.

mod checksums;
mod prop;
mod tso;
mod verify_rx;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burst_port::offload::{self, prepare_tx, ready_len, verify_rx, OffloadStats};
use burst_port::{
    Batch, Capabilities, ChecksumStatus, L4Checksum, PacketBuf, RxMeta, TxOffload, BURST_MAX,
};
use burst_wire::checksum;
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::udp;
use burst_wire::{ChecksumCheck, ChecksumMode};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// A test-only PacketBuf over Vec-backed segments, with a live-buffer counter
// ---------------------------------------------------------------------------------------------

const HEADROOM: usize = 128;
/// Data room of a pool buffer after the headroom (DPDK's default mbuf: 2048).
const DATAROOM: usize = 2048;
/// Longest chain the test backend accepts.
const MAX_SEGS: usize = 64;

#[derive(Debug)]
struct Seg {
    mem: Vec<u8>,
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct TBuf {
    segs: Vec<Seg>,
    tx: TxOffload,
    rx: RxMeta,
    live: Arc<AtomicUsize>,
}

impl Drop for TBuf {
    fn drop(&mut self) {
        // Every segment is one pool buffer (like an mbuf).
        self.live.fetch_sub(self.segs.len(), Ordering::SeqCst);
    }
}

impl PacketBuf for TBuf {
    fn data(&self) -> &[u8] {
        let s = &self.segs[0];
        &s.mem[s.start..s.end]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        let s = &mut self.segs[0];
        &mut s.mem[s.start..s.end]
    }
    fn pkt_len(&self) -> usize {
        self.segs.iter().map(|s| s.end - s.start).sum()
    }
    fn nb_segs(&self) -> usize {
        self.segs.len()
    }
    fn headroom(&self) -> usize {
        self.segs[0].start
    }
    fn tailroom(&self) -> usize {
        let s = self.segs.last().unwrap();
        s.mem.len() - s.end
    }
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let s = &mut self.segs[0];
        if s.start < n {
            return None;
        }
        s.start -= n;
        Some(&mut s.mem[s.start..s.start + n])
    }
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let s = self.segs.last_mut().unwrap();
        if s.mem.len() - s.end < n {
            return None;
        }
        s.end += n;
        Some(&mut s.mem[s.end - n..s.end])
    }
    fn adj(&mut self, n: usize) -> bool {
        let s = &mut self.segs[0];
        if s.end - s.start < n {
            return false;
        }
        s.start += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        let s = self.segs.last_mut().unwrap();
        if s.end - s.start < n {
            return false;
        }
        s.end -= n;
        true
    }
    type Segments<'a> = std::iter::Map<std::slice::Iter<'a, Seg>, fn(&'a Seg) -> &'a [u8]>;
    fn segments(&self) -> Self::Segments<'_> {
        fn bytes(s: &Seg) -> &[u8] {
            &s.mem[s.start..s.end]
        }
        self.segs.iter().map(bytes as fn(&Seg) -> &[u8])
    }
    fn chain(&mut self, mut tail: Self) -> Result<(), Self> {
        if self.segs.len() + tail.segs.len() > MAX_SEGS {
            return Err(tail);
        }
        // The tail's buffers now belong to this chain (its drop then counts none).
        self.segs.append(&mut tail.segs);
        Ok(())
    }
    fn tx_offload(&self) -> TxOffload {
        self.tx
    }
    fn set_tx_offload(&mut self, o: TxOffload) {
        self.tx = o
    }
    fn rx_meta(&self) -> RxMeta {
        self.rx
    }
    fn set_rx_meta(&mut self, m: RxMeta) {
        self.rx = m
    }
}

/// A pool that counts buffers out and can be told to run dry after a number of allocations.
struct Pool {
    live: Arc<AtomicUsize>,
    /// Allocations left before `alloc` fails.
    budget: usize,
}

impl Pool {
    fn new() -> Pool {
        Pool {
            live: Arc::new(AtomicUsize::new(0)),
            budget: usize::MAX,
        }
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// One buffer of `dataroom` bytes after the headroom, filled with 0xa5 so an unwritten byte
    /// shows.
    fn buf_with_room(&mut self, dataroom: usize) -> Option<TBuf> {
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        self.live.fetch_add(1, Ordering::SeqCst);
        Some(TBuf {
            segs: vec![Seg {
                mem: vec![0xa5; HEADROOM + dataroom],
                start: HEADROOM,
                end: HEADROOM,
            }],
            tx: TxOffload::default(),
            rx: RxMeta::default(),
            live: self.live.clone(),
        })
    }

    fn alloc(&mut self) -> Option<TBuf> {
        self.buf_with_room(DATAROOM)
    }

    /// A packet holding `bytes`, chained in segments of the given lengths (the last takes the
    /// rest).
    fn packet(&mut self, bytes: &[u8], seg_lens: &[usize]) -> TBuf {
        let mut at = 0;
        let mut head: Option<TBuf> = None;
        let mut lens = seg_lens
            .iter()
            .copied()
            .chain(std::iter::repeat(usize::MAX));
        loop {
            let n = lens.next().unwrap().min(bytes.len() - at);
            let mut b = self.buf_with_room(n.max(DATAROOM)).unwrap();
            b.append(n).unwrap().copy_from_slice(&bytes[at..at + n]);
            at += n;
            match head.as_mut() {
                None => head = Some(b),
                Some(h) => h.chain(b).unwrap(),
            }
            if at == bytes.len() {
                return head.unwrap();
            }
        }
    }
}

fn bytes_of(b: &TBuf) -> Vec<u8> {
    let mut v = vec![0; b.pkt_len()];
    b.copy_to(&mut v);
    v
}

// ---------------------------------------------------------------------------------------------
// Frames built with burst_wire
// ---------------------------------------------------------------------------------------------

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
const L2: usize = ethernet::HEADER_LEN;

fn eth() -> ethernet::Repr {
    ethernet::Repr {
        src_addr: MacAddr::new(0x02, 0, 0, 0, 0, 1),
        dst_addr: MacAddr::new(0x02, 0, 0, 0, 0, 2),
        vlan: None,
        ethertype: EtherType::IPV4,
    }
}

fn ip(protocol: Protocol, payload_len: usize, ident: u16) -> ipv4::Repr {
    ipv4::Repr {
        ident,
        dont_frag: true,
        dscp: 10,
        ..ipv4::Repr::new(SRC, DST, protocol, payload_len, 64)
    }
}

fn payload(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 13) as u8)
        .collect()
}

/// An Ethernet/IPv4/TCP frame, both checksums per `mode`.
fn tcp_frame(t: &tcp::Repr, data: &[u8], ident: u16, mode: ChecksumMode) -> (Vec<u8>, TxOffload) {
    assert_eq!(t.payload_len, data.len());
    let i = ip(Protocol::TCP, t.buffer_len(), ident);
    let l3 = i.header_len();
    let mut f = vec![0xa5u8; L2 + i.buffer_len()];
    f[L2 + l3 + t.header_len()..].copy_from_slice(data);
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut f[L2 + l3..]),
        SRC,
        DST,
        mode,
    );
    i.emit(&mut ipv4::Packet::new_unchecked(&mut f[L2..]), mode);
    eth().emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    let o = TxOffload {
        l2_len: L2 as u8,
        l3_len: l3 as u8,
        l4_len: t.header_len() as u8,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: 0,
    };
    (f, o)
}

/// An Ethernet/IPv4/UDP frame, both checksums per `mode`.
fn udp_frame(data: &[u8], ident: u16, mode: ChecksumMode) -> (Vec<u8>, TxOffload) {
    let u = udp::Repr {
        src_port: 49152,
        dst_port: 9,
        payload_len: data.len(),
    };
    let i = ip(Protocol::UDP, u.buffer_len(), ident);
    let l3 = i.header_len();
    let mut f = vec![0xa5u8; L2 + i.buffer_len()];
    f[L2 + l3 + udp::HEADER_LEN..].copy_from_slice(data);
    u.emit(
        &mut udp::Packet::new_unchecked(&mut f[L2 + l3..]),
        SRC,
        DST,
        mode,
    );
    i.emit(&mut ipv4::Packet::new_unchecked(&mut f[L2..]), mode);
    eth().emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    let o = TxOffload {
        l2_len: L2 as u8,
        l3_len: l3 as u8,
        l4_len: 0,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Udp),
        tso_segsz: 0,
    };
    (f, o)
}

fn tcp_repr(payload_len: usize, flags: Flags) -> tcp::Repr {
    tcp::Repr {
        src_port: 40000,
        dst_port: 5001,
        // Close to the wrap, so segment sequence numbers wrap.
        seq: SeqNumber(0xffff_8000),
        ack_number: SeqNumber(0x1234_5678),
        flags,
        window: 4096,
        options: tcp::Options::ack(Some((0xdead_beef, 0x0102_0304)), None),
        payload_len,
        ..tcp::Repr::default()
    }
}

/// A TSO super-segment as the stack hands it over: IPv4 checksum 0, TCP field = pseudo-header
/// sum without the length (DPDK's TSO rule).
fn super_segment(data: &[u8], flags: Flags, ident: u16, mss: u16) -> (Vec<u8>, TxOffload) {
    let (mut f, mut o) = tcp_frame(
        &tcp_repr(data.len(), flags),
        data,
        ident,
        ChecksumMode::Offload,
    );
    let l4s = L2 + usize::from(o.l3_len);
    tcp::Packet::new_unchecked(&mut f[l4s..]).set_checksum(checksum::pseudo_header(SRC, DST, 6, 0));
    o.tso_segsz = mss;
    (f, o)
}

fn tagged(pool: &mut Pool, frame: &[u8], o: TxOffload, seg_lens: &[usize]) -> TBuf {
    let mut b = pool.packet(frame, seg_lens);
    b.set_tx_offload(o);
    b
}

/// Sends a batch the way the module docs tell backends to: prepare, take the ready prefix, repeat.
/// Returns the frames "on the wire" in order, with their remaining offload requests.
fn drive(
    caps: &Capabilities,
    batch: &mut Batch<TBuf>,
    pool: &mut Pool,
    stats: &mut OffloadStats,
) -> Vec<(Vec<u8>, TxOffload)> {
    let mut wire = Vec::new();
    for _ in 0..1000 {
        prepare_tx(caps, batch, &mut || pool.alloc(), stats);
        let ready = ready_len(caps, batch);
        for b in batch.drain(..ready) {
            assert!(!offload::needs_software(caps, &b.tx_offload()));
            wire.push((bytes_of(&b), b.tx_offload()));
        }
        if ready == 0 || batch.is_empty() {
            break;
        }
    }
    wire
}

/// Checks software segments: each verifies (IPv4 and TCP checksums), carries the right ID,
/// sequence number, flags, options and lengths, and their payloads concatenate to `data`.
#[track_caller]
fn check_segments(frames: &[Vec<u8>], data: &[u8], mss: usize, flags: Flags, ident: u16) {
    let orig = tcp_repr(data.len(), flags);
    assert_eq!(frames.len(), data.len().div_ceil(mss).max(1));
    let mut joined = Vec::new();
    for (j, f) in frames.iter().enumerate() {
        let last = j + 1 == frames.len();
        let e = ethernet::Frame::new_checked(&f[..]).unwrap();
        let ipp = ipv4::Packet::new_checked(e.payload()).unwrap();
        let ir = ipv4::Repr::parse(&ipp, ChecksumCheck::Verify).expect("IPv4 checksum");
        assert_eq!(
            ir.ident,
            ident.wrapping_add(j as u16),
            "IP ID of segment {j}"
        );
        assert!(ir.dont_frag);
        assert_eq!(ir.dscp, 10);
        assert_eq!(e.payload().len(), usize::from(ipp.total_len()));
        let tp = tcp::Packet::new_checked(ipp.payload()).unwrap();
        let tr = tcp::Repr::parse(&tp, SRC, DST, ChecksumCheck::Verify).expect("TCP checksum");
        assert_eq!(tr.seq, orig.seq + joined.len(), "seq of segment {j}");
        assert_eq!(tr.ack_number, orig.ack_number);
        assert_eq!(tr.options, orig.options);
        assert_eq!(tr.window, orig.window);
        let mut want = flags;
        if j > 0 {
            want.remove(Flags::CWR);
        }
        if !last {
            want.remove(Flags::FIN | Flags::PSH);
            assert_eq!(tr.payload_len, mss, "segment {j} is full");
        }
        assert_eq!(tr.flags, want, "flags of segment {j}");
        joined.extend_from_slice(tp.payload());
    }
    assert_eq!(joined, data, "segments reassemble the payload");
}

const ALL_FLAGS: Flags = Flags::ACK
    .union(Flags::PSH)
    .union(Flags::FIN)
    .union(Flags::CWR)
    .union(Flags::ECE);

/// Chain lengths for a super-segment: the headers plus 101 payload bytes, then odd pieces.
const ODD_SEGS: &[usize] = &[66 + 101, 1, 1999, 7, 2047, 1500, 3];
