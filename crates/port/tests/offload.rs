//! Software offload fallbacks: results equal burst_wire's `ChecksumMode::Compute` emit, TSO
//! segments verify and reassemble, no buffer leaks, batch overflow resumes, verify_rx verdicts.

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

// ---------------------------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------------------------

#[test]
fn tcp_and_ipv4_checksums_equal_compute_emit() {
    let mut pool = Pool::new();
    let data = payload(1001, 1);
    let t = tcp_repr(data.len(), Flags::ACK | Flags::PSH);
    let (want, _) = tcp_frame(&t, &data, 7, ChecksumMode::Compute);
    let (input, o) = tcp_frame(&t, &data, 7, ChecksumMode::Offload);
    assert_ne!(want, input);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &input, o, &[])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(batch.len(), 1);
    assert_eq!(bytes_of(&batch.as_slice()[0]), want);
    assert!(batch.as_slice()[0].tx_offload().is_empty());
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (1, 1));
    assert_eq!(ready_len(&Capabilities::NONE, &batch), 1);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn chained_odd_segments_equal_compute_emit() {
    let mut pool = Pool::new();
    for (len, cuts) in [
        (1001usize, &[14 + 20 + 8 + 3, 7, 1, 1, 500][..]),
        (999, &[14 + 20 + 8, 1, 2, 3, 5, 8, 13, 21][..]),
        (3000, &[45, 1499, 1][..]),
    ] {
        let data = payload(len, len as u32);
        let (want, _) = udp_frame(&data, 1, ChecksumMode::Compute);
        let (input, o) = udp_frame(&data, 1, ChecksumMode::Offload);
        let t = tcp_repr(len, Flags::ACK);
        let (twant, _) = tcp_frame(&t, &data, 2, ChecksumMode::Compute);
        let (tinput, to) = tcp_frame(&t, &data, 2, ChecksumMode::Offload);
        let mut tcuts = cuts.to_vec();
        tcuts[0] += 24; // the TCP header (with timestamps) is 24 bytes longer than UDP's
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &input, o, cuts)).unwrap();
        batch.push(tagged(&mut pool, &tinput, to, &tcuts)).unwrap();
        assert!(batch.as_slice()[0].nb_segs() > 3);
        let mut st = OffloadStats::default();
        prepare_tx(
            &Capabilities::NONE,
            &mut batch,
            &mut || pool.alloc(),
            &mut st,
        );
        assert_eq!(bytes_of(&batch.as_slice()[0]), want, "udp len {len}");
        assert_eq!(bytes_of(&batch.as_slice()[1]), twant, "tcp len {len}");
        assert_eq!(st.sw_l4_checksums, 2);
    }
    assert_eq!(pool.live(), 0);
}

#[test]
fn udp_checksum_computed_zero_is_sent_as_ffff() {
    let mut pool = Pool::new();
    // Choose the last payload word so the checksum comes out 0: compute with it 0, then set it
    // to the complement of the sum without it.
    let mut data = payload(100, 9);
    data[98] = 0;
    data[99] = 0;
    let (f, _) = udp_frame(&data, 1, ChecksumMode::Compute);
    let c = udp::Packet::new_unchecked(&f[L2 + 20..]).checksum();
    data[98..].copy_from_slice(&c.to_be_bytes());
    let (want, _) = udp_frame(&data, 1, ChecksumMode::Compute);
    assert_eq!(
        udp::Packet::new_unchecked(&want[L2 + 20..]).checksum(),
        0xffff
    );
    let (input, o) = udp_frame(&data, 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &input, o, &[50])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(bytes_of(&batch.as_slice()[0]), want);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn requests_the_port_has_are_left_for_the_nic() {
    let mut pool = Pool::new();
    let data = payload(300, 3);
    let t = tcp_repr(data.len(), Flags::ACK);
    let (input, o) = tcp_frame(&t, &data, 5, ChecksumMode::Offload);
    let (uinput, uo) = udp_frame(&data, 6, ChecksumMode::Offload);
    let (sup, so) = super_segment(&payload(5000, 4), Flags::ACK, 9, 1448);

    // Everything in hardware: nothing changes at all.
    let mut batch = Batch::new();
    for (f, o) in [(&input, o), (&uinput, uo), (&sup, so)] {
        batch.push(tagged(&mut pool, f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::ALL,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st, OffloadStats::default());
    assert_eq!(bytes_of(&batch.as_slice()[0]), input);
    assert_eq!(batch.as_slice()[0].tx_offload(), o);
    assert_eq!(bytes_of(&batch.as_slice()[2]), sup);
    assert_eq!(batch.as_slice()[2].tx_offload(), so);
    batch.clear();

    // IPv4 and UDP in hardware, TCP not: only the TCP checksum is done and its flag cleared.
    let caps = Capabilities {
        tx_ipv4_checksum: true,
        tx_udp_checksum: true,
        ..Capabilities::NONE
    };
    batch.push(tagged(&mut pool, &input, o, &[])).unwrap();
    batch.push(tagged(&mut pool, &uinput, uo, &[])).unwrap();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    let (want, _) = tcp_frame(&t, &data, 5, ChecksumMode::Compute);
    let got = bytes_of(&batch.as_slice()[0]);
    assert_eq!(got[L2 + 20..], want[L2 + 20..], "TCP computed");
    assert_eq!(
        ipv4::Packet::new_unchecked(&got[L2..]).checksum(),
        0,
        "IPv4 left to NIC"
    );
    let left = batch.as_slice()[0].tx_offload();
    assert!(left.ipv4_checksum && left.l4_checksum.is_none());
    assert_eq!(bytes_of(&batch.as_slice()[1]), uinput);
    assert_eq!(batch.as_slice()[1].tx_offload(), uo);
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (0, 1));
    drop(batch);
    assert_eq!(pool.live(), 0);
}

// ---------------------------------------------------------------------------------------------
// TSO
// ---------------------------------------------------------------------------------------------

#[test]
fn tso_64k_in_software_reassembles_and_verifies() {
    let mut pool = Pool::new();
    let data = payload(64000, 11);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 0xfff0, 1448);
    assert_eq!(sup.len() - L2, 20 + 32 + 64000);
    let (before, bo) = udp_frame(b"before", 1, ChecksumMode::Offload);
    let (after, ao) = udp_frame(b"after", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &before, bo, &[])).unwrap();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    batch.push(tagged(&mut pool, &after, ao, &[])).unwrap();
    assert!(batch.as_slice()[1].nb_segs() > 7);
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let n = 64000usize.div_ceil(1448);
    assert_eq!(n, 45);
    assert_eq!(batch.len(), n + 2);
    assert_eq!(ready_len(&Capabilities::NONE, &batch), batch.len());
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    assert_eq!(frames[0], udp_frame(b"before", 1, ChecksumMode::Compute).0);
    assert_eq!(
        frames[n + 1],
        udp_frame(b"after", 2, ChecksumMode::Compute).0
    );
    // IDs from 0xfff0 wrap past 0xffff; sequence numbers wrap past 2^32.
    check_segments(&frames[1..=n], &data, 1448, ALL_FLAGS, 0xfff0);
    assert!(batch
        .iter()
        .all(|b| b.tx_offload().is_empty() && b.nb_segs() == 1));
    assert_eq!(
        st,
        OffloadStats {
            sw_ipv4_checksums: n as u64 + 2,
            sw_l4_checksums: n as u64 + 2,
            sw_tso_packets: 1,
            sw_tso_segments: n as u64,
            ..OffloadStats::default()
        }
    );
    // The super-segment's buffers went back; only the segments and the two packets are out.
    assert_eq!(pool.live(), n + 2);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_with_checksum_offload_leaves_checksums_to_the_nic() {
    let mut pool = Pool::new();
    let data = payload(10_001, 12);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 100, 1448);
    let caps = Capabilities {
        tx_ipv4_checksum: true,
        tx_tcp_checksum: true,
        ..Capabilities::NONE
    };
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(batch.len(), 7);
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (0, 0));
    for b in batch.iter() {
        let f = bytes_of(b);
        let ipp = ipv4::Packet::new_checked(&f[L2..]).unwrap();
        assert_eq!(ipp.checksum(), 0);
        let seg_len = ipp.payload().len();
        let tp = tcp::Packet::new_checked(ipp.payload()).unwrap();
        // Exactly what burst_wire's Offload emit writes for a segment of this length.
        assert_eq!(
            tp.checksum(),
            checksum::pseudo_header(SRC, DST, 6, seg_len as u16)
        );
        let o = b.tx_offload();
        assert!(o.ipv4_checksum && o.l4_checksum == Some(L4Checksum::Tcp) && o.tso_segsz == 0);
        assert_eq!((o.l2_len, o.l3_len, o.l4_len), (14, 20, 32));
    }
    // Completing those requests (as a NIC would) gives the all-software result byte for byte.
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    check_segments(&frames, &data, 1448, ALL_FLAGS, 100);
    let mut soft = Batch::new();
    soft.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(
        &Capabilities::NONE,
        &mut soft,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(soft.iter().map(bytes_of).collect::<Vec<_>>(), frames);
    drop((batch, soft));
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_payload_within_one_segment_is_finished_in_place() {
    let mut pool = Pool::new();
    let data = payload(1000, 13);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 77, 1448);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[100, 3])).unwrap();
    let mut st = OffloadStats::default();
    // A dry pool: nothing is allocated on this path.
    pool.budget = 0;
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let (want, _) = tcp_frame(&tcp_repr(1000, ALL_FLAGS), &data, 77, ChecksumMode::Compute);
    assert_eq!(
        bytes_of(&batch.as_slice()[0]),
        want,
        "flags all kept, same as Compute"
    );
    assert!(batch.as_slice()[0].tx_offload().is_empty());
    assert_eq!((st.sw_tso_packets, st.sw_tso_segments), (1, 1));
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_alloc_failure_keeps_complete_segments_and_drops_the_rest() {
    let mut pool = Pool::new();
    let data = payload(64000, 14);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 1, 1448);
    let (udp, uo) = udp_frame(b"after", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    batch.push(tagged(&mut pool, &udp, uo, &[])).unwrap();
    pool.budget = 10;
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st.dropped_no_buffer, 1);
    assert_eq!((st.sw_tso_segments, st.sw_tso_packets), (10, 0));
    // Ten complete segments, then the later packet, still processed.
    assert_eq!(batch.len(), 11);
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    assert_eq!(frames[10], udp_frame(b"after", 2, ChecksumMode::Compute).0);
    let mut prefix = ALL_FLAGS;
    prefix.remove(Flags::FIN | Flags::PSH);
    check_segments(&frames[..10], &data[..10 * 1448], 1448, prefix, 1);
    // The super-segment's buffers are back in the pool; only batch buffers are out.
    assert_eq!(pool.live(), 11);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_jumbo_mss_chains_segments_or_drops_without_multi_seg() {
    let mut pool = Pool::new();
    let data = payload(20_000, 15);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 3, 5000);
    let mut st = OffloadStats::default();
    let multi = Capabilities {
        tx_multi_seg: true,
        ..Capabilities::NONE
    };
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(&multi, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(batch.len(), 4);
    assert!(batch.iter().all(|b| b.nb_segs() == 3));
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    check_segments(&frames, &data, 5000, ALL_FLAGS, 3);
    batch.clear();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert!(batch.is_empty());
    assert_eq!(st.dropped_malformed, 1);
    assert_eq!(pool.live(), 0);
}

#[test]
fn batch_overflow_defers_and_resumes_in_order() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(64000, 16);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 500, 1448);
    let mut batch = Batch::new();
    let mut udps = Vec::new();
    // 20 packets before and 23 after the super-segment: 44 in the batch, room 20 < 44.
    for k in 0..44u16 {
        if k == 20 {
            batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
            continue;
        }
        let d = format!("udp {k}");
        let (f, o) = udp_frame(d.as_bytes(), k, ChecksumMode::Offload);
        udps.push(udp_frame(d.as_bytes(), k, ChecksumMode::Compute).0);
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    // The 20 free slots took the first 20 segments; the rest of the super-segment waits right
    // after them, and the 23 packets behind it are untouched.
    assert_eq!(batch.len(), BURST_MAX);
    assert_eq!(ready_len(&caps, &batch), 40);
    assert_eq!(
        (st.tso_deferred, st.sw_tso_segments, st.tso_stalled),
        (1, 20, 0)
    );
    let rest = &batch.as_slice()[40];
    assert_eq!(rest.tx_offload(), so);
    let rf = bytes_of(rest);
    let rip = ipv4::Packet::new_unchecked(&rf[L2..]);
    assert_eq!(usize::from(rip.total_len()), 52 + 64000 - 20 * 1448);
    assert_eq!(rip.ident(), 520);
    assert!(batch.as_slice()[41].tx_offload().l4_checksum.is_some());

    // Calling again before transmitting changes nothing (no room): idempotent.
    let before = st;
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(st.sw_tso_segments, before.sw_tso_segments);
    assert_eq!(ready_len(&caps, &batch), 40);

    // The backend loop: transmit the ready prefix, prepare again, until done.
    let mut wire: Vec<_> = batch.drain(..40).map(|b| bytes_of(&b)).collect();
    wire.extend(
        drive(&caps, &mut batch, &mut pool, &mut st)
            .into_iter()
            .map(|(f, _)| f),
    );
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 43 + 45);
    assert_eq!(wire[..20], udps[..20]);
    check_segments(&wire[20..65], &data, 1448, ALL_FLAGS, 500);
    assert_eq!(wire[65..], udps[20..]);
    assert_eq!((st.sw_tso_packets, st.sw_tso_segments), (1, 45));
    assert_eq!(pool.live(), 0);
}

#[test]
fn exact_fit_uses_the_super_segments_own_slot() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(4 * 1448, 21);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 9, 1448);
    let (f, o) = udp_frame(b"y", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    for _ in 0..30 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    while batch.room() > 3 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    // Four segments, three free slots: the fourth takes the super-segment's slot.
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert!(batch.is_full());
    assert_eq!(ready_len(&caps, &batch), BURST_MAX);
    assert_eq!((st.tso_deferred, st.sw_tso_packets), (0, 1));
    let frames: Vec<_> = batch.iter().skip(30).take(4).map(bytes_of).collect();
    check_segments(&frames, &data, 1448, ALL_FLAGS, 9);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn small_mss_needs_more_segments_than_a_batch_holds() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(64000, 17);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 0xffc0, 536);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    let mut st = OffloadStats::default();
    let wire: Vec<_> = drive(&caps, &mut batch, &mut pool, &mut st)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 120);
    check_segments(&wire, &data, 536, ALL_FLAGS, 0xffc0);
    assert_eq!((st.tso_deferred, st.sw_tso_packets), (1, 1));
    assert_eq!(pool.live(), 0);
}

#[test]
fn full_batch_led_by_a_super_segment_stalls_without_loss() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let (sup, so) = super_segment(&payload(3000, 18), ALL_FLAGS, 1, 1448);
    let (f, o) = udp_frame(b"x", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(ready_len(&caps, &batch), 0);
    assert_eq!((st.tso_deferred, st.tso_stalled), (1, 1));
    assert_eq!(bytes_of(&batch.as_slice()[0]), sup, "nothing changed");
    // One free slot is enough to make progress.
    batch.pop();
    let wire = drive(&caps, &mut batch, &mut pool, &mut st);
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 3 + 62);
    let frames: Vec<_> = wire.iter().take(3).map(|(f, _)| f.clone()).collect();
    check_segments(&frames, &payload(3000, 18), 1448, ALL_FLAGS, 1);
    assert_eq!(pool.live(), 0);
}

#[test]
fn malformed_requests_are_dropped_and_counted() {
    let mut pool = Pool::new();
    let data = payload(4000, 19);
    let (sup, so) = super_segment(&data, Flags::ACK, 1, 1448);
    let (udp, uo) = udp_frame(&data[..100], 2, ChecksumMode::Offload);
    let bad: Vec<(Vec<u8>, TxOffload)> = vec![
        // l3_len beyond the packet.
        (udp[..40].to_vec(), TxOffload { l3_len: 60, ..uo }),
        // l3_len different from the IHL.
        (udp.clone(), TxOffload { l3_len: 24, ..uo }),
        // IPv4 total length beyond the packet.
        (udp[..udp.len() - 1].to_vec(), uo),
        // Not IPv4 at l2_len.
        (udp.clone(), TxOffload { l2_len: 12, ..uo }),
        // UDP under TSO.
        (
            udp.clone(),
            TxOffload {
                l4_len: 8,
                tso_segsz: 1448,
                ..uo
            },
        ),
        // l4_len different from the TCP data offset.
        (sup.clone(), TxOffload { l4_len: 20, ..so }),
        // A fragment under TSO.
        (
            {
                let mut f = sup.clone();
                f[L2 + 6] |= 0x20;
                f
            },
            so,
        ),
    ];
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &udp, uo, &[])).unwrap();
    for (f, o) in &bad {
        batch.push(tagged(&mut pool, f, *o, &[])).unwrap();
    }
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st.dropped_malformed, bad.len() as u64);
    assert_eq!(batch.len(), 1 + 3);
    assert_eq!(
        bytes_of(&batch.as_slice()[0]),
        udp_frame(&data[..100], 2, ChecksumMode::Compute).0
    );
    let frames: Vec<_> = batch.iter().skip(1).map(bytes_of).collect();
    check_segments(&frames, &data, 1448, Flags::ACK, 1);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

// ---------------------------------------------------------------------------------------------
// Receive verification
// ---------------------------------------------------------------------------------------------

fn verdicts(pool: &mut Pool, frame: &[u8], cuts: &[usize]) -> (ChecksumStatus, ChecksumStatus) {
    let mut b = pool.packet(frame, cuts);
    b.set_rx_meta(RxMeta {
        rss_hash: Some(42),
        ..RxMeta::default()
    });
    verify_rx(&mut b);
    let m = b.rx_meta();
    assert_eq!(m.rss_hash, Some(42), "other metadata kept");
    (m.ip_checksum, m.l4_checksum)
}

#[test]
fn verify_rx_good_bad_unknown() {
    use ChecksumStatus::{Bad, Good, Unknown};
    let mut pool = Pool::new();
    let data = payload(1001, 20);
    let (tcpf, _) = tcp_frame(&tcp_repr(1001, Flags::ACK), &data, 1, ChecksumMode::Compute);
    let (udpf, _) = udp_frame(&data, 2, ChecksumMode::Compute);
    for f in [&tcpf, &udpf] {
        assert_eq!(verdicts(&mut pool, f, &[]), (Good, Good));
        // Chained with odd pieces, headers split across segments too.
        assert_eq!(verdicts(&mut pool, f, &[13, 21, 1, 7, 333]), (Good, Good));
        let mut p = f.clone();
        *p.last_mut().unwrap() ^= 0x40;
        assert_eq!(
            verdicts(&mut pool, &p, &[101, 3]),
            (Good, Bad),
            "payload corrupt"
        );
        let mut h = f.clone();
        h[L2 + 8] ^= 1; // TTL
        assert_eq!(
            verdicts(&mut pool, &h, &[]),
            (Bad, Good),
            "IPv4 header corrupt"
        );
    }
    // UDP without checksum.
    let mut z = udpf.clone();
    z[L2 + 20 + 6..L2 + 20 + 8].fill(0);
    assert_eq!(verdicts(&mut pool, &z, &[]), (Good, Good));
    // A fragment: header verified, L4 not.
    let mut frag = udpf.clone();
    let mut ipp = ipv4::Packet::new_unchecked(&mut frag[L2..]);
    ipp.set_flags_and_offset(false, true, 0);
    ipp.fill_checksum();
    assert_eq!(verdicts(&mut pool, &frag, &[]), (Good, Unknown));
    // Not IPv4.
    let mut arp = udpf.clone();
    ethernet::Frame::new_unchecked(&mut arp[..]).set_ethertype(EtherType::ARP);
    assert_eq!(verdicts(&mut pool, &arp, &[]), (Unknown, Unknown));
    // Truncated datagram: L4 cannot be checked.
    assert_eq!(verdicts(&mut pool, &udpf[..200], &[]), (Good, Unknown));
    // Ethernet padding after a short datagram is ignored.
    let (small, _) = udp_frame(b"hi", 3, ChecksumMode::Compute);
    let mut padded = small.clone();
    padded.resize(60, 0);
    assert_eq!(verdicts(&mut pool, &padded, &[]), (Good, Good));
    assert_eq!(pool.live(), 0);
}

// ---------------------------------------------------------------------------------------------
// Property: any payload, any chain split
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_split_equals_compute(
        len in 0usize..3000,
        salt in any::<u32>(),
        cuts in proptest::collection::vec(1usize..700, 0..8),
        is_tcp in any::<bool>(),
    ) {
        let mut pool = Pool::new();
        let data = payload(len, salt);
        let (want, input, o) = if is_tcp {
            let t = tcp_repr(len, Flags::ACK);
            let (w, _) = tcp_frame(&t, &data, 4, ChecksumMode::Compute);
            let (i, o) = tcp_frame(&t, &data, 4, ChecksumMode::Offload);
            (w, i, o)
        } else {
            let (w, _) = udp_frame(&data, 4, ChecksumMode::Compute);
            let (i, o) = udp_frame(&data, 4, ChecksumMode::Offload);
            (w, i, o)
        };
        // Headers stay in the first segment (as DPDK requires); the rest is split anywhere.
        let mut lens = vec![L2 + usize::from(o.l3_len) + 32];
        lens.extend(cuts);
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &input, o, &lens)).unwrap();
        let mut st = OffloadStats::default();
        prepare_tx(&Capabilities::NONE, &mut batch, &mut || pool.alloc(), &mut st);
        prop_assert_eq!(bytes_of(&batch.as_slice()[0]), want.clone());
        let mut b = batch.pop().unwrap();
        verify_rx(&mut b);
        prop_assert_eq!(b.rx_meta().ip_checksum, ChecksumStatus::Good);
        prop_assert_eq!(b.rx_meta().l4_checksum, ChecksumStatus::Good);
        drop(b);
        prop_assert_eq!(pool.live(), 0);
    }

    #[test]
    fn any_tso_split_reassembles(
        len in 1usize..9000,
        mss in 64u16..2000,
        cuts in proptest::collection::vec(1usize..3000, 0..6),
    ) {
        let mut pool = Pool::new();
        let data = payload(len, len as u32);
        let (sup, so) = super_segment(&data, ALL_FLAGS, 0xfffe, mss);
        let mut lens = vec![66];
        lens.extend(cuts);
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &sup, so, &lens)).unwrap();
        let mut st = OffloadStats::default();
        // Multi-segment transmit, so an MSS above a buffer's room (1982 here) chains.
        let caps = Capabilities { tx_multi_seg: true, ..Capabilities::NONE };
        let wire: Vec<_> = drive(&caps, &mut batch, &mut pool, &mut st)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        prop_assert!(batch.is_empty());
        check_segments(&wire, &data, usize::from(mss), ALL_FLAGS, 0xfffe);
        prop_assert_eq!(pool.live(), 0);
    }
}

/// A driver that takes up to `room` frames per call and records them.
fn driver<'a>(
    wire: &'a mut Vec<Vec<u8>>,
    room: &'a mut usize,
) -> impl FnMut(&mut Batch<TBuf>, usize) -> usize + 'a {
    move |batch: &mut Batch<TBuf>, n: usize| {
        let n = n.min(*room);
        *room -= n;
        for b in batch.drain(..n) {
            wire.push(bytes_of(&b));
        }
        n
    }
}

#[test]
fn transmit_fast_path_sends_everything_untouched() {
    let mut pool = Pool::new();
    let caps = Capabilities::ALL;
    let (f, o) = udp_frame(b"fast", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    for _ in 0..10 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), usize::MAX);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!(sent, 10);
    assert!(
        wire.iter().all(|w| *w == f),
        "hardware offloads: frames go out as handed over"
    );
    assert_eq!(st, OffloadStats::default());
    assert_eq!(pool.live(), 0);
}

#[test]
fn transmit_handles_a_full_batch_led_by_a_super_segment() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(3000, 19);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 1, 1448);
    let (f, o) = udp_frame(b"y", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), usize::MAX);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!(
        sent,
        3 + 63,
        "three segments, then the 63 datagrams, in order"
    );
    assert!(batch.is_empty());
    check_segments(&wire[..3], &data, 1448, ALL_FLAGS, 1);
    assert_eq!(st.dropped_tx_full, 0);
    drop(wire);

    // The same with a driver that has room for only two frames: the third segment is
    // tail-dropped and counted, the datagrams stay in the caller's batch.
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), 2);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!((sent, st.dropped_tx_full, batch.len()), (2, 1, 63));
    drop(batch);
    assert_eq!(pool.live(), 0);
}
