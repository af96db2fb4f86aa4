//! The pcap tap on a test queue: TX and RX recorded once each at ns or µs resolution, snaplen,
//! flush on drop, write errors; read back with pcap-file as the independent reader.

use super::*;
use crate::buf::{RxMeta, TxOffload};
use crate::clock::VirtualClock;
use pcap_file::pcap::PcapReader;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const SEG_SIZE: usize = 2048;
const HEADROOM: usize = 128;

/// A test segment: `mem[start..end]` holds the data.
#[derive(Debug)]
struct Seg {
    mem: Vec<u8>,
    start: usize,
    end: usize,
}

/// A Vec-backed packet buffer; each segment counts as one pool element, given back to
/// `free` on drop.
#[derive(Debug)]
struct VecBuf {
    segs: Vec<Seg>,
    tx: TxOffload,
    rx: RxMeta,
    free: Arc<AtomicUsize>,
}

impl Drop for VecBuf {
    fn drop(&mut self) {
        self.free.fetch_add(self.segs.len(), Ordering::Relaxed);
    }
}

type SegIter<'a> = core::iter::Map<core::slice::Iter<'a, Seg>, fn(&'a Seg) -> &'a [u8]>;

fn seg_bytes(s: &Seg) -> &[u8] {
    &s.mem[s.start..s.end]
}

impl PacketBuf for VecBuf {
    fn data(&self) -> &[u8] {
        seg_bytes(&self.segs[0])
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
        s.start = s.start.checked_sub(n)?;
        Some(&mut s.mem[s.start..s.start + n])
    }
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let s = self.segs.last_mut().unwrap();
        if s.end + n > s.mem.len() {
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
    type Segments<'a> = SegIter<'a>;
    fn segments(&self) -> SegIter<'_> {
        self.segs.iter().map(seg_bytes as fn(&Seg) -> &[u8])
    }
    fn chain(&mut self, mut tail: Self) -> Result<(), Self> {
        self.segs.append(&mut tail.segs);
        Ok(())
    }
    fn tx_offload(&self) -> TxOffload {
        self.tx
    }
    fn set_tx_offload(&mut self, o: TxOffload) {
        self.tx = o;
    }
    fn rx_meta(&self) -> RxMeta {
        self.rx
    }
    fn set_rx_meta(&mut self, m: RxMeta) {
        self.rx = m;
    }
}

/// A loopback queue: what is transmitted is received back. Takes at most `tx_per_call`
/// frames per `tx_burst`, to exercise partial transmits.
#[derive(Debug)]
struct Loopback {
    free: Arc<AtomicUsize>,
    wire: VecDeque<VecBuf>,
    tx_per_call: usize,
}

impl Loopback {
    fn new(pool: usize, tx_per_call: usize) -> Self {
        Loopback {
            free: Arc::new(AtomicUsize::new(pool)),
            wire: VecDeque::new(),
            tx_per_call,
        }
    }
    fn free(&self) -> usize {
        self.free.load(Ordering::Relaxed)
    }
}

impl Queue for Loopback {
    type Buf = VecBuf;
    fn rx_burst(&mut self, batch: &mut Batch<VecBuf>) -> usize {
        let mut n = 0;
        while !batch.is_full() {
            let Some(b) = self.wire.pop_front() else {
                break;
            };
            batch.push(b).unwrap();
            n += 1;
        }
        n
    }
    fn tx_burst(&mut self, batch: &mut Batch<VecBuf>) -> usize {
        let n = batch.len().min(self.tx_per_call);
        self.wire.extend(batch.drain(..n));
        n
    }
    fn alloc(&mut self) -> Option<VecBuf> {
        // Take one element from the pool, if any is left.
        self.free
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| f.checked_sub(1))
            .ok()?;
        Some(VecBuf {
            segs: vec![Seg {
                mem: vec![0; SEG_SIZE],
                start: HEADROOM,
                end: HEADROOM,
            }],
            tx: TxOffload::default(),
            rx: RxMeta::default(),
            free: self.free.clone(),
        })
    }
    fn caps(&self) -> Capabilities {
        Capabilities::NONE
    }
    fn index(&self) -> u16 {
        3
    }
}

/// An Ethernet/IPv4/UDP-shaped frame between 198.18.0.1 and 198.18.0.2, `len` bytes,
/// the payload a counter seeded by `tag` (only the bytes matter to the tap).
fn frame_bytes(tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    if len >= 34 {
        f[14] = 0x45;
        f[23] = 17;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
    }
    for (i, b) in f.iter_mut().enumerate().skip(34) {
        *b = tag.wrapping_add(i as u8);
    }
    f
}

/// A buffer holding `bytes`, split into segments of at most `seg` bytes.
fn make_buf(q: &mut impl Queue<Buf = VecBuf>, bytes: &[u8], seg: usize) -> VecBuf {
    let mut chunks = bytes.chunks(seg);
    let mut head = q.alloc().unwrap();
    head.append(seg.min(bytes.len()))
        .unwrap()
        .copy_from_slice(chunks.next().unwrap_or(&[]));
    for c in chunks {
        let mut t = q.alloc().unwrap();
        t.append(c.len()).unwrap().copy_from_slice(c);
        head.chain(t).unwrap();
    }
    head
}

fn read_back(bytes: &[u8]) -> (PcapHeader, Vec<(Duration, u32, Vec<u8>)>) {
    let mut r = PcapReader::new(bytes).unwrap();
    let header = r.header();
    let mut out = Vec::new();
    while let Some(raw) = r.next_raw_packet() {
        let raw = raw.unwrap();
        if raw.orig_len <= header.snaplen {
            // Let pcap-file validate the record and convert the timestamp.
            let p = raw
                .try_into_pcap_packet(header.ts_resolution, header.snaplen)
                .unwrap();
            out.push((p.timestamp, p.orig_len, p.data.into_owned()));
        } else {
            // Truncated: pcap-file 2 rejects orig_len > snaplen (libpcap allows it; it
            // is what truncation means), so read the fields raw.
            let scale = match header.ts_resolution {
                TsResolution::MicroSecond => 1_000,
                TsResolution::NanoSecond => 1,
            };
            let ts = Duration::new(u64::from(raw.ts_sec), raw.ts_frac * scale);
            assert_eq!(raw.incl_len as usize, raw.data.len());
            out.push((ts, raw.orig_len, raw.data.into_owned()));
        }
    }
    (header, out)
}

fn run_loopback(resolution: Resolution) {
    let clock = VirtualClock::new();
    clock.advance(Nanos(1_700_000_123_456_789));
    let lo = Loopback::new(64, BURST_MAX);
    let start_free = lo.free();
    let pcap = PcapWriter::new(Vec::new(), clock.clone(), resolution).unwrap();
    let mut tap = Tap::new(lo, pcap);
    assert_eq!(tap.index(), 3);

    // A plain frame, a three-segment chain and a minimum-size frame.
    let frames = [
        frame_bytes(1, 1514),
        frame_bytes(2, 3000),
        frame_bytes(3, 60),
    ];
    let mut batch = Batch::new();
    batch
        .push(make_buf(&mut tap, &frames[0], SEG_SIZE))
        .unwrap();
    batch.push(make_buf(&mut tap, &frames[1], 1100)).unwrap();
    assert_eq!(batch.as_slice()[1].nb_segs(), 3);
    batch
        .push(make_buf(&mut tap, &frames[2], SEG_SIZE))
        .unwrap();
    assert_eq!(tap.tx_burst(&mut batch), 3);
    assert!(batch.is_empty());

    clock.advance(Nanos(2_500));
    let mut rx = Batch::new();
    assert_eq!(tap.rx_burst(&mut rx), 3);
    let got: Vec<Vec<u8>> = rx
        .iter()
        .map(|b| {
            let mut v = vec![0; b.pkt_len()];
            b.copy_to(&mut v);
            v
        })
        .collect();
    assert_eq!(got, frames, "the tap forwards frames unchanged");
    drop(rx);

    tap.flush().unwrap();
    let (lo, pcap) = tap.into_parts();
    assert_eq!(pcap.records(), 6);
    let (header, recs) = read_back(&pcap.into_inner().unwrap());
    assert_eq!(header.datalink, DataLink::ETHERNET);
    assert_eq!(header.snaplen, DEFAULT_SNAPLEN);
    let want_res = match resolution {
        Resolution::Micro => TsResolution::MicroSecond,
        Resolution::Nano => TsResolution::NanoSecond,
    };
    assert_eq!(header.ts_resolution, want_res);
    assert_eq!(recs.len(), 6);
    let t_tx = Duration::from_nanos(1_700_000_123_456_789);
    let t_rx = Duration::from_nanos(1_700_000_123_459_289);
    let trunc = |d: Duration| match resolution {
        Resolution::Micro => Duration::from_micros(d.as_micros() as u64),
        Resolution::Nano => d,
    };
    for (i, (ts, orig, data)) in recs.iter().enumerate() {
        let f = &frames[i % 3];
        assert_eq!(data, f, "record {i}");
        assert_eq!(*orig as usize, f.len());
        assert_eq!(*ts, trunc(if i < 3 { t_tx } else { t_rx }), "record {i}");
    }
    assert_eq!(lo.free(), start_free, "no buffer leaked");
}

#[test]
fn tap_records_tx_and_rx_nanoseconds() {
    run_loopback(Resolution::Nano);
}

#[test]
fn tap_records_tx_and_rx_microseconds() {
    run_loopback(Resolution::Micro);
}

#[test]
fn partial_tx_records_each_frame_once() {
    let clock = VirtualClock::new();
    let lo = Loopback::new(16, 2);
    let start_free = lo.free();
    let mut tap = Tap::new(
        lo,
        PcapWriter::new(Vec::new(), clock.clone(), Resolution::Nano).unwrap(),
    );
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| frame_bytes(i, 100 + usize::from(i)))
        .collect();
    let mut batch = Batch::new();
    for f in &frames {
        batch.push(make_buf(&mut tap, f, SEG_SIZE)).unwrap();
    }
    // The queue takes two per call; the caller retries what is left.
    let mut calls = 0;
    while !batch.is_empty() {
        clock.advance(Nanos(1_000));
        tap.tx_burst(&mut batch);
        calls += 1;
    }
    assert_eq!(calls, 3);
    let mut rx = Batch::new();
    assert_eq!(tap.rx_burst(&mut rx), 5);
    drop(rx);
    let (lo, pcap) = tap.into_parts();
    let (_, recs) = read_back(&pcap.into_inner().unwrap());
    assert_eq!(recs.len(), 10, "5 sent once each, 5 received");
    for (i, (ts, _, data)) in recs[..5].iter().enumerate() {
        assert_eq!(data, &frames[i]);
        // Frames 0-1 went in call 1, 2-3 in call 2, 4 in call 3.
        assert_eq!(ts.as_nanos(), 1_000 * (i as u128 / 2 + 1), "frame {i}");
    }
    assert_eq!(lo.free(), start_free);
}

#[test]
fn snaplen_truncates_keeping_original_length() {
    let clock = VirtualClock::new();
    let mut lo = Loopback::new(8, BURST_MAX);
    let start_free = lo.free();
    let pcap = PcapWriter::with_snaplen(Vec::new(), clock, Resolution::Micro, 1000).unwrap();
    let big = frame_bytes(9, 3000);
    let mut w = pcap;
    // Through the writer directly (chain streamed) and through a tap (staged copy).
    let buf = make_buf(&mut lo, &big, 700);
    w.write_frame(&buf).unwrap();
    drop(buf);
    let mut tap = Tap::new(lo, w);
    let mut batch = Batch::new();
    batch.push(make_buf(&mut tap, &big, 1500)).unwrap();
    assert_eq!(tap.tx_burst(&mut batch), 1);
    let mut rx = Batch::new();
    tap.rx_burst(&mut rx);
    assert_eq!(
        rx.as_slice()[0].pkt_len(),
        3000,
        "the tap never truncates the traffic"
    );
    drop(rx);
    let (lo, pcap) = tap.into_parts();
    let (h, recs) = read_back(&pcap.into_inner().unwrap());
    assert_eq!(h.snaplen, 1000);
    assert_eq!(recs.len(), 3);
    for (_, orig, data) in &recs {
        assert_eq!(*orig, 3000);
        assert_eq!(data[..], big[..1000]);
    }
    assert_eq!(lo.free(), start_free);
}

#[test]
fn file_is_flushed_on_drop_with_wall_clock_timestamps() {
    let dir = std::env::temp_dir().join(format!("burst-pcap-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tap.pcap");
    let clock = VirtualClock::new();
    let lo = Loopback::new(4, BURST_MAX);
    let start_free = lo.free();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut tap = Tap::new(
        lo,
        PcapWriter::create(&path, clock.clone(), Resolution::Nano).unwrap(),
    );
    let f = frame_bytes(7, 200);
    let mut batch = Batch::new();
    batch.push(make_buf(&mut tap, &f, SEG_SIZE)).unwrap();
    clock.advance(Nanos::from_millis(5));
    assert_eq!(tap.tx_burst(&mut batch), 1);
    let mut rx = Batch::new();
    assert_eq!(tap.rx_burst(&mut rx), 1);
    drop(rx);
    // Nothing explicit: dropping the tap flushes its BufWriter.
    let (lo, pcap) = tap.into_parts();
    assert_eq!(lo.free(), start_free);
    drop(pcap);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (_, recs) = read_back(&bytes);
    assert_eq!(recs.len(), 2);
    for (ts, _, data) in &recs {
        assert_eq!(data, &f);
        // The epoch maps the clock's zero to the time the file was created.
        assert!(
            *ts >= before + Duration::from_millis(5) && *ts <= after + Duration::from_millis(5)
        );
    }
}

/// A writer that fails after `ok` bytes.
struct Failing {
    ok: usize,
}

impl Write for Failing {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if b.len() > self.ok {
            return Err(io::Error::other("disk full"));
        }
        self.ok -= b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_stop_recording_but_not_traffic() {
    let clock = VirtualClock::new();
    let lo = Loopback::new(8, BURST_MAX);
    let start_free = lo.free();
    // Room for the 24-byte file header only. A record larger than the write buffer goes
    // past it to the writer at once, so the error shows on that tx_burst.
    let w =
        PcapWriter::with_snaplen(Failing { ok: 24 }, clock, Resolution::Micro, 4 << 20).unwrap();
    let mut tap = Tap::new(lo, w);
    let small = frame_bytes(5, 100);
    let mut batch = Batch::new();
    batch.push(make_buf(&mut tap, &small, SEG_SIZE)).unwrap();
    assert_eq!(tap.tx_burst(&mut batch), 1);
    assert!(tap.error().is_none(), "still buffered");
    let mut big = tap.alloc().unwrap();
    big.segs[0] = Seg {
        mem: frame_bytes(6, 2 * WRITE_BUFFER),
        start: 0,
        end: 2 * WRITE_BUFFER,
    };
    batch.push(big).unwrap();
    assert_eq!(
        tap.tx_burst(&mut batch),
        1,
        "the frame is sent despite the failed record"
    );
    assert_eq!(tap.error().unwrap().to_string(), "disk full");
    let records = tap.writer().records();
    batch.push(make_buf(&mut tap, &small, SEG_SIZE)).unwrap();
    assert_eq!(tap.tx_burst(&mut batch), 1);
    let mut rx = Batch::new();
    assert_eq!(tap.rx_burst(&mut rx), 3, "traffic still flows");
    let lens: Vec<usize> = rx.iter().map(|b| b.pkt_len()).collect();
    assert_eq!(lens, [100, 2 * WRITE_BUFFER, 100]);
    assert_eq!(tap.writer().records(), records, "recording stopped");
    drop(rx);
    let (lo, _) = tap.into_parts();
    assert_eq!(lo.free(), start_free);
}
