//! A pcap tap for any port: [`PcapWriter`] writes Ethernet frames to a classic pcap file, and
//! [`Tap`] wraps a [`Queue`] so that every frame it receives and transmits is recorded.
//!
//! This is a debugging tool. Unlike the rest of the packet path it copies every frame and
//! makes `write(2)` syscalls (through a [`BufWriter`], so one per buffer-full, not one per
//! frame); expect it to cost throughput. Do not leave it on in production.
//!
//! File format: classic libpcap (not pcapng), link type Ethernet (`LINKTYPE_ETHERNET`),
//! native byte order, micro- or nanosecond timestamps. The file header comes from the
//! `pcap-file` crate; the 16-byte record headers are written here, because `pcap-file`'s
//! writer gives no access to its inner writer (so it could not be flushed) and wants each
//! record as one contiguous slice (we stream a chain's segments instead).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::batch::{Batch, BURST_MAX};
use crate::buf::PacketBuf;
use crate::clock::{Clock, Nanos};
use crate::port::{Capabilities, Queue};

/// Default snapshot length: tcpdump's maximum (256 KiB), so TSO super-frames (up to 64 KiB of
/// payload plus headers) are recorded whole. Longer frames are truncated to it.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Buffer size of the [`BufWriter`] in front of the file.
const WRITE_BUFFER: usize = 1 << 20;

/// Timestamp resolution of a pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resolution {
    /// Microseconds (the original format, readable by every tool).
    #[default]
    Micro,
    /// Nanoseconds (magic `0xa1b23c4d`; Wireshark, tcpdump ≥ 4.x).
    Nano,
}

/// Writes Ethernet frames to a classic pcap file, timestamped by a [`Clock`].
///
/// A record's timestamp is `epoch + clock.now()`: with [`PcapWriter::new`] the epoch is zero
/// (a [`crate::clock::VirtualClock`] then gives reproducible files), with
/// [`PcapWriter::create`] it is the Unix time at which the clock read zero, so records carry
/// wall-clock time. Output is buffered; it is flushed by [`PcapWriter::flush`],
/// [`PcapWriter::into_inner`], and (errors ignored) when the writer is dropped.
#[derive(Debug)]
pub struct PcapWriter<W: Write, C: Clock> {
    out: BufWriter<W>,
    clock: C,
    resolution: Resolution,
    snaplen: u32,
    epoch: Duration,
    records: u64,
}

impl<C: Clock> PcapWriter<File, C> {
    /// Creates (truncates) the file at `path` and writes the pcap header; timestamps are wall
    /// clock (the epoch is set so that `clock.now()` maps to the current Unix time).
    pub fn create(path: impl AsRef<Path>, clock: C, resolution: Resolution) -> io::Result<Self> {
        let file = File::create(path)?;
        let mut w = PcapWriter::new(file, clock, resolution)?;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        w.epoch = unix_now.saturating_sub(Duration::from_nanos(w.clock.now().0));
        Ok(w)
    }
}

impl<W: Write, C: Clock> PcapWriter<W, C> {
    /// Writes the pcap header (snapshot length [`DEFAULT_SNAPLEN`]) to `out`.
    pub fn new(out: W, clock: C, resolution: Resolution) -> io::Result<Self> {
        PcapWriter::with_snaplen(out, clock, resolution, DEFAULT_SNAPLEN)
    }

    /// Writes the pcap header with snapshot length `snaplen` (frames longer than it are
    /// recorded truncated, with their original length).
    pub fn with_snaplen(
        out: W,
        clock: C,
        resolution: Resolution,
        snaplen: u32,
    ) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, out);
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen,
            datalink: DataLink::ETHERNET,
            ts_resolution: match resolution {
                Resolution::Micro => TsResolution::MicroSecond,
                Resolution::Nano => TsResolution::NanoSecond,
            },
            endianness: Endianness::native(),
        };
        header.write_to(&mut out).map_err(pcap_to_io)?;
        Ok(PcapWriter {
            out,
            clock,
            resolution,
            snaplen,
            epoch: Duration::ZERO,
            records: 0,
        })
    }

    /// Sets the Unix time the clock's zero stands for (timestamps are `epoch + clock.now()`).
    pub fn set_epoch(&mut self, epoch: Duration) {
        self.epoch = epoch;
    }

    /// The clock records are timestamped with.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Number of records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records `buf` (all its segments, truncated to the snapshot length), timestamped now.
    pub fn write_frame<B: PacketBuf>(&mut self, buf: &B) -> io::Result<()> {
        let now = self.clock.now();
        self.write_frame_at(now, buf)
    }

    /// Records `buf` with timestamp `at` (on the clock's time line).
    pub fn write_frame_at<B: PacketBuf>(&mut self, at: Nanos, buf: &B) -> io::Result<()> {
        let orig_len = buf.pkt_len();
        let incl_len = orig_len.min(self.snaplen as usize);
        self.write_record_header(at, incl_len, orig_len)?;
        // Stream the chain's segments straight into the buffered writer: no staging copy.
        let mut left = incl_len;
        for seg in buf.segments() {
            let n = seg.len().min(left);
            self.out.write_all(&seg[..n])?;
            left -= n;
            if left == 0 {
                break;
            }
        }
        self.records += 1;
        Ok(())
    }

    /// Records the frame bytes `data` with timestamp `at`; `orig_len` is the frame's length on
    /// the wire (≥ `data.len()`; more when `data` was truncated). `data` is cut to the
    /// snapshot length.
    pub fn write_bytes(&mut self, at: Nanos, data: &[u8], orig_len: usize) -> io::Result<()> {
        let incl_len = data.len().min(self.snaplen as usize);
        self.write_record_header(at, incl_len, orig_len.max(data.len()))?;
        self.out.write_all(&data[..incl_len])?;
        self.records += 1;
        Ok(())
    }

    /// Writes buffered records to the underlying writer and flushes it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }

    /// The libpcap record header: ts_sec, ts_usec|ts_nsec, incl_len, orig_len (u32 each, in
    /// the file's byte order, which is native: see the header written in `with_snaplen`).
    fn write_record_header(
        &mut self,
        at: Nanos,
        incl_len: usize,
        orig_len: usize,
    ) -> io::Result<()> {
        let ts = self.epoch + Duration::from_nanos(at.0);
        let sec = u32::try_from(ts.as_secs())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcap timestamp past 2106"))?;
        let frac = match self.resolution {
            Resolution::Micro => ts.subsec_micros(),
            Resolution::Nano => ts.subsec_nanos(),
        };
        let len = |n: usize| {
            u32::try_from(n)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))
        };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_ne_bytes());
        h[4..8].copy_from_slice(&frac.to_ne_bytes());
        h[8..12].copy_from_slice(&len(incl_len)?.to_ne_bytes());
        h[12..16].copy_from_slice(&len(orig_len)?.to_ne_bytes());
        self.out.write_all(&h)
    }
}

fn pcap_to_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// One frame staged before `tx_burst`: where its bytes are in the stage, and its full length.
#[derive(Debug, Clone, Copy, Default)]
struct Staged {
    end: usize,
    orig_len: usize,
}

/// A [`Queue`] that records every frame it receives and transmits into one pcap file, in the
/// order the worker saw them (rx and tx interleaved; tell directions apart by addresses).
///
/// * Received frames are recorded after the inner `rx_burst`, timestamped at its return.
/// * Transmitted frames are recorded *as handed to the queue*: they are copied before the
///   inner `tx_burst` (timestamped then), and only those it takes are written, so frames left
///   in the batch and retried later are recorded once. The inner queue may still rewrite a
///   frame afterwards (software checksum offload, TSO segmentation), so the record shows the
///   frame before those offloads, with zero or pseudo-header checksums where the offload was
///   requested, and a TSO frame as one super-frame. A frame taken by the inner queue but then
///   dropped by it (e.g. no buffer for segmentation) is recorded all the same.
///
/// Recording does syscalls and copies on the packet path (see the module doc). A write error
/// never disturbs the traffic: the tap keeps the first error ([`Tap::error`]), stops
/// recording and keeps forwarding.
#[derive(Debug)]
pub struct Tap<Q: Queue, W: Write, C: Clock> {
    inner: Q,
    pcap: PcapWriter<W, C>,
    /// Copies of the frames of the current tx batch (reused: grows to the largest batch).
    stage: Vec<u8>,
    staged: [Staged; BURST_MAX],
    error: Option<io::Error>,
}

impl<Q: Queue, W: Write, C: Clock> Tap<Q, W, C> {
    /// Wraps `inner`, recording into `pcap`.
    pub fn new(inner: Q, pcap: PcapWriter<W, C>) -> Self {
        Tap {
            inner,
            pcap,
            stage: Vec::new(),
            staged: [Staged::default(); BURST_MAX],
            error: None,
        }
    }

    /// The wrapped queue.
    pub fn inner(&self) -> &Q {
        &self.inner
    }

    /// The wrapped queue, mutable.
    pub fn inner_mut(&mut self) -> &mut Q {
        &mut self.inner
    }

    /// The pcap writer.
    pub fn writer(&self) -> &PcapWriter<W, C> {
        &self.pcap
    }

    /// The first write error, if recording has stopped because of one.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Writes buffered records out (also done when the tap is dropped).
    pub fn flush(&mut self) -> io::Result<()> {
        self.pcap.flush()
    }

    /// Unwraps into the queue and the (unflushed) writer.
    pub fn into_parts(self) -> (Q, PcapWriter<W, C>) {
        (self.inner, self.pcap)
    }

    fn note(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
}

impl<Q, W, C> Queue for Tap<Q, W, C>
where
    Q: Queue,
    W: Write + Send,
    C: Clock,
{
    type Buf = Q::Buf;

    fn rx_burst(&mut self, batch: &mut Batch<Self::Buf>) -> usize {
        let before = batch.len();
        let n = self.inner.rx_burst(batch);
        if n > 0 && self.error.is_none() {
            let now = self.pcap.clock.now();
            // rx_burst appends: the new frames are the last `n`.
            let r = batch.as_slice()[before..before + n]
                .iter()
                .try_for_each(|b| self.pcap.write_frame_at(now, b));
            self.note(r);
        }
        n
    }

    fn tx_burst(&mut self, batch: &mut Batch<Self::Buf>) -> usize {
        if self.error.is_some() || batch.is_empty() {
            return self.inner.tx_burst(batch);
        }
        // Copy before handing over: the taken frames are gone (or rewritten) afterwards.
        let now = self.pcap.clock.now();
        let snaplen = self.pcap.snaplen as usize;
        self.stage.clear();
        for (b, slot) in batch.iter().zip(self.staged.iter_mut()) {
            let orig_len = b.pkt_len();
            let start = self.stage.len();
            self.stage.resize(start + orig_len, 0);
            b.copy_to(&mut self.stage[start..]);
            self.stage.truncate(start + orig_len.min(snaplen));
            *slot = Staged {
                end: self.stage.len(),
                orig_len,
            };
        }
        let n = self.inner.tx_burst(batch);
        let mut start = 0;
        for i in 0..n {
            let s = self.staged[i];
            let r = self
                .pcap
                .write_bytes(now, &self.stage[start..s.end], s.orig_len);
            start = s.end;
            if r.is_err() {
                self.note(r);
                break;
            }
        }
        n
    }

    fn alloc(&mut self) -> Option<Self::Buf> {
        self.inner.alloc()
    }

    fn alloc_bulk(&mut self, batch: &mut Batch<Self::Buf>, n: usize) -> usize {
        self.inner.alloc_bulk(batch, n)
    }

    fn caps(&self) -> Capabilities {
        self.inner.caps()
    }

    fn index(&self) -> u16 {
        self.inner.index()
    }
}

#[cfg(test)]
mod tests;
