//! `burst ctl capture`: frames a port receives or sends, copied by the workers into slots the
//! control thread lends them, written by the CLI as pcapng.
//!
//! Each worker shares one [`CaptureTap`] with the control thread. When a capture starts the
//! control thread fills the tap's free list with empty slots (allocated there, `snaplen`
//! bytes each), sets what to capture and opens it. A worker that sees the tap open (one
//! relaxed load per burst) copies each matching frame into a free slot and queues it; with no
//! free slot (the reader is behind) the frame is counted as dropped and forwarding goes on — a
//! capture never slows or blocks a worker. The control thread drains the queues, sends the
//! frames to the CLI and returns the slots.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use burst_stack::PortId;
use crossbeam_queue::ArrayQueue;

/// Slots per worker (frames in flight between a worker and the control thread).
pub const SLOTS: usize = 1024;
/// Memory one worker's slots may take: fewer slots for large snap lengths.
pub const SLOT_BYTES: usize = 32 << 20;

/// What a capture keeps: all fields optional, all given ones must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CaptureFilter {
    /// IP protocol (1 ICMP, 6 TCP, 17 UDP, ...).
    pub proto: Option<u8>,
    /// Source or destination address.
    pub host: Option<Ipv4Addr>,
    /// TCP or UDP source or destination port.
    pub port: Option<u16>,
}

impl CaptureFilter {
    /// Parses `tcp|udp|icmp|proto N`, `host A.B.C.D`, `port N`, in any order.
    pub fn parse(words: &[String]) -> Result<CaptureFilter, String> {
        let mut f = CaptureFilter::default();
        let mut it = words.iter().map(String::as_str);
        while let Some(w) = it.next() {
            match w {
                "tcp" => f.proto = Some(6),
                "udp" => f.proto = Some(17),
                "icmp" => f.proto = Some(1),
                "proto" => {
                    let v = it.next().ok_or("proto needs a number")?;
                    f.proto = Some(v.parse().map_err(|_| format!("proto {v}: not 0..=255"))?);
                }
                "host" => {
                    let v = it.next().ok_or("host needs an address")?;
                    f.host = Some(
                        v.parse()
                            .map_err(|_| format!("host {v}: not an IPv4 address"))?,
                    );
                }
                "port" => {
                    let v = it.next().ok_or("port needs a number")?;
                    f.port = Some(v.parse().map_err(|_| format!("port {v}: not 0..=65535"))?);
                }
                "and" => {}
                w => {
                    return Err(format!(
                        "{w}: unknown filter word (tcp, udp, icmp, proto N, host A.B.C.D, port N)"
                    ))
                }
            }
        }
        Ok(f)
    }

    /// Whether an Ethernet frame matches (a frame that is not IPv4 matches only an empty
    /// filter).
    pub fn matches(&self, frame: &[u8]) -> bool {
        if *self == CaptureFilter::default() {
            return true;
        }
        let Some(ip) = ipv4_of(frame) else {
            return false;
        };
        if ip.len() < 20 {
            return false;
        }
        let proto = ip[9];
        if self.proto.is_some_and(|p| p != proto) {
            return false;
        }
        if let Some(h) = self.host {
            let h = h.octets();
            if ip[12..16] != h && ip[16..20] != h {
                return false;
            }
        }
        if let Some(port) = self.port {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
            let Some(l4) = ip
                .get(ihl..ihl + 4)
                .filter(|_| first && (proto == 6 || proto == 17))
            else {
                return false;
            };
            let p = port.to_be_bytes();
            if l4[..2] != p && l4[2..4] != p {
                return false;
            }
        }
        true
    }
}

/// The IPv4 header and what follows, behind an Ethernet header (with one VLAN tag or none).
fn ipv4_of(frame: &[u8]) -> Option<&[u8]> {
    let et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match et {
        0x0800 => frame.get(14..),
        0x8100 if frame.get(16..18)? == [0x08, 0x00] => frame.get(18..),
        _ => None,
    }
}

/// Which way a frame went.
pub const IN: u8 = 1;
/// Sent by us.
pub const OUT: u8 = 2;

/// One captured frame.
#[derive(Debug)]
pub struct Captured {
    /// The slot, holding `len` bytes of the frame.
    pub slot: Box<[u8]>,
    /// Bytes copied.
    pub len: u32,
    /// The frame's length.
    pub orig_len: u32,
    /// When (the node's clock).
    pub at_ns: u64,
    /// Port.
    pub port: u16,
    /// [`IN`] or [`OUT`].
    pub dir: u8,
}

/// One worker's share of a capture.
pub struct CaptureTap {
    open: AtomicBool,
    port: AtomicU32,
    dirs: AtomicU32,
    filter: filter_cell::Cell,
    /// Frames still wanted (shared count: each tap holds the same total, the first to reach
    /// it closes its own tap; the control thread stops at the total).
    remaining: AtomicU64,
    /// Frames missed: no free slot.
    pub dropped: AtomicU64,
    /// Empty slots lent by the control thread.
    pub free: ArrayQueue<Box<[u8]>>,
    /// Filled slots waiting for the control thread.
    pub filled: ArrayQueue<Captured>,
}

/// The filter in atomics (written while the tap is closed, read while it is open).
mod filter_cell {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::CaptureFilter;

    /// `proto | has_proto << 8 | port << 16 | has_port << 32 | has_host << 33` and the host.
    #[derive(Default)]
    pub(super) struct Cell(AtomicU64, AtomicU64);

    impl Cell {
        pub(super) fn set(&self, f: &CaptureFilter) {
            let mut w = 0u64;
            if let Some(p) = f.proto {
                w |= u64::from(p) | 1 << 8;
            }
            if let Some(p) = f.port {
                w |= u64::from(p) << 16 | 1 << 32;
            }
            if f.host.is_some() {
                w |= 1 << 33;
            }
            self.0.store(w, Ordering::Relaxed);
            self.1.store(
                f.host.map_or(0, |h| u64::from(h.to_bits())),
                Ordering::Relaxed,
            );
        }

        pub(super) fn get(&self) -> CaptureFilter {
            let w = self.0.load(Ordering::Relaxed);
            let h = self.1.load(Ordering::Relaxed);
            CaptureFilter {
                proto: (w & 1 << 8 != 0).then_some(w as u8),
                port: (w & 1 << 32 != 0).then_some((w >> 16) as u16),
                host: (w & 1 << 33 != 0).then(|| std::net::Ipv4Addr::from_bits(h as u32)),
            }
        }
    }
}

impl Default for CaptureTap {
    fn default() -> Self {
        CaptureTap {
            open: AtomicBool::new(false),
            port: AtomicU32::new(0),
            dirs: AtomicU32::new(0),
            filter: filter_cell::Cell::default(),
            remaining: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            free: ArrayQueue::new(SLOTS),
            filled: ArrayQueue::new(SLOTS),
        }
    }
}

impl CaptureTap {
    /// Whether a capture runs (one relaxed load: read once per burst).
    #[inline]
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Control thread: lends `slots` slots of `snaplen` bytes and opens the tap for `port`,
    /// directions `dirs` ([`IN`] | [`OUT`]), `filter`, at most `count` frames.
    pub fn start(
        &self,
        port: PortId,
        dirs: u8,
        filter: &CaptureFilter,
        count: u64,
        snaplen: usize,
        slots: usize,
    ) {
        self.stop();
        for _ in 0..slots.min(SLOTS) {
            let _ = self.free.push(vec![0u8; snaplen].into_boxed_slice());
        }
        self.port.store(u32::from(port.0), Ordering::Relaxed);
        self.dirs.store(u32::from(dirs), Ordering::Relaxed);
        self.filter.set(filter);
        self.remaining.store(count, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
        // Release: a worker that sees the tap open sees its settings and slots.
        self.open.store(true, Ordering::Release);
    }

    /// Control thread: closes the tap and takes back every slot (queued frames included).
    pub fn stop(&self) {
        self.open.store(false, Ordering::Release);
        self.remaining.store(0, Ordering::Relaxed);
        while self.free.pop().is_some() {}
        while self.filled.pop().is_some() {}
    }

    /// Worker: whether the capture wants frames of `port` in direction `dir` (once per burst).
    #[inline]
    pub fn wants(&self, port: PortId, dir: u8) -> bool {
        self.port.load(Ordering::Relaxed) == u32::from(port.0)
            && self.dirs.load(Ordering::Relaxed) & u32::from(dir) != 0
    }

    /// Worker: copies `frame` (of a port and direction [`wants`](Self::wants) said yes to) if
    /// the filter matches, then lets `fix` adjust the copy. `starved` is the burst's memory
    /// that a slot was missing: once set, matching frames are counted missed without touching
    /// the queues again, so a capture the reader cannot keep up with costs a filter test per
    /// frame. Missed frames are the caller's to add to [`dropped`](Self::dropped), once per
    /// burst.
    #[inline]
    pub fn offer(&self, starved: &mut bool, seen: Seen<'_>, fix: impl FnOnce(&mut [u8])) -> Offer {
        let Seen {
            frame,
            orig_len,
            at_ns,
            port,
            dir,
        } = seen;
        if !self.filter.get().matches(frame) || self.remaining.load(Ordering::Relaxed) == 0 {
            return Offer::Skipped;
        }
        if *starved {
            return Offer::NoSlot;
        }
        let Some(mut slot) = self.free.pop() else {
            *starved = true;
            return Offer::NoSlot;
        };
        if self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            // Another worker took the last one.
            let _ = self.free.push(slot);
            return Offer::Skipped;
        }
        let n = frame.len().min(slot.len());
        slot[..n].copy_from_slice(&frame[..n]);
        fix(&mut slot[..n]);
        let c = Captured {
            slot,
            len: n as u32,
            orig_len: orig_len.max(n) as u32,
            at_ns,
            port: port.0,
            dir,
        };
        if self.filled.push(c).is_err() {
            // Cannot happen: there are no more slots than the queue holds.
            return Offer::NoSlot;
        }
        Offer::Captured
    }
}

/// A frame a worker saw, as offered to a capture.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The frame's bytes (its first segment).
    pub frame: &'a [u8],
    /// The whole frame's length.
    pub orig_len: usize,
    /// When (node time, ns).
    pub at_ns: u64,
    /// The port it came in or goes out by.
    pub port: PortId,
    /// [`IN`] or [`OUT`].
    pub dir: u8,
}

/// What [`CaptureTap::offer`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Not wanted: no capture, another port or direction, filtered out, or count reached.
    Skipped,
    /// Copied into a slot.
    Captured,
    /// Wanted, but every slot was in use (counted as dropped).
    NoSlot,
}

/// Fills, in a captured copy of a frame we send, the checksums the port will fill (offload or
/// software fallback at transmit), so the capture shows the frame as it leaves. TSO
/// super-frames and copies cut short by the snap length are left as they are.
pub fn complete_checksums(copy: &mut [u8], o: &burst_port::TxOffload) {
    use burst_wire::{ipv4, tcp, udp};
    if o.tso_segsz > 0 {
        return;
    }
    let (l2, l3) = (usize::from(o.l2_len), usize::from(o.l3_len));
    let Some(ip_bytes) = copy.get_mut(l2..) else {
        return;
    };
    let Ok(mut ip) = ipv4::Packet::new_checked(&mut ip_bytes[..]) else {
        return;
    };
    if o.ipv4_checksum {
        ip.fill_checksum();
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let total = usize::from(ip.total_len());
    let Some(l4) = ip_bytes.get_mut(l3..total) else {
        return;
    };
    match o.l4_checksum {
        Some(burst_port::L4Checksum::Tcp) if l4.len() >= tcp::HEADER_LEN => {
            tcp::Packet::new_unchecked(l4).fill_checksum(src, dst)
        }
        Some(burst_port::L4Checksum::Udp) if l4.len() >= udp::HEADER_LEN => {
            udp::Packet::new_unchecked(l4).fill_checksum(src, dst)
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn filters() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let f = CaptureFilter::parse(&w("tcp and host 198.18.0.1 and port 80")).unwrap();
        assert_eq!(
            f,
            CaptureFilter {
                proto: Some(6),
                host: Some("198.18.0.1".parse().unwrap()),
                port: Some(80)
            }
        );
        let a = [198, 18, 0, 1];
        let b = [198, 18, 0, 2];
        assert!(f.matches(&frame(6, a, b, 5000, 80)));
        assert!(f.matches(&frame(6, b, a, 80, 5000)), "either direction");
        assert!(!f.matches(&frame(17, a, b, 5000, 80)));
        assert!(!f.matches(&frame(6, b, b, 5000, 80)));
        assert!(!f.matches(&frame(6, a, b, 5000, 81)));
        assert!(
            CaptureFilter::default().matches(&[0u8; 60]),
            "empty: everything"
        );
        assert!(!CaptureFilter::parse(&w("icmp"))
            .unwrap()
            .matches(&[0u8; 60]));
        assert!(CaptureFilter::parse(&w("host 1.2.3")).is_err());
        assert!(CaptureFilter::parse(&w("bogus")).is_err());
        // The filter survives its trip through the atomics.
        let c = filter_cell::Cell::default();
        c.set(&f);
        assert_eq!(c.get(), f);
        c.set(&CaptureFilter::default());
        assert_eq!(c.get(), CaptureFilter::default());
    }

    fn seen(f: &[u8], at_ns: u64) -> Seen<'_> {
        Seen {
            frame: f,
            orig_len: f.len(),
            at_ns,
            port: PortId(0),
            dir: IN,
        }
    }

    #[test]
    fn slots_bound_what_is_captured() {
        let t = CaptureTap::default();
        let f = frame(17, [198, 18, 0, 1], [198, 18, 0, 2], 1, 2);
        let mut starved = false;
        let offer = |at, starved: &mut bool| t.offer(starved, seen(&f, at), |_| {});
        assert_eq!(offer(1, &mut starved), Offer::Skipped, "closed: nothing");
        t.start(PortId(0), IN, &CaptureFilter::default(), 100, 20, 2);
        assert!(t.wants(PortId(0), IN));
        assert!(!t.wants(PortId(1), IN), "another port");
        assert!(!t.wants(PortId(0), OUT), "another direction");
        assert_eq!(offer(1, &mut starved), Offer::Captured);
        assert_eq!(offer(2, &mut starved), Offer::Captured);
        assert!(!starved);
        assert_eq!(offer(3, &mut starved), Offer::NoSlot, "no free slot");
        assert!(starved, "the burst remembers it");
        assert_eq!(offer(4, &mut starved), Offer::NoSlot);
        let c = t.filled.pop().unwrap();
        assert_eq!((c.len, c.orig_len, c.at_ns), (20, f.len() as u32, 1));
        assert_eq!(&c.slot[..20], &f[..20], "cut to the snap length");
        // The slot back: a new burst captures again, up to the count.
        t.free.push(c.slot).unwrap();
        let mut starved = false;
        assert_eq!(t.offer(&mut starved, seen(&f, 5), |_| {}), Offer::Captured);
        assert_eq!(t.remaining.load(Ordering::Relaxed), 97);
        t.remaining.store(0, Ordering::Relaxed);
        let c = t.filled.pop().unwrap();
        t.free.push(c.slot).unwrap();
        assert_eq!(
            t.offer(&mut starved, seen(&f, 6), |_| {}),
            Offer::Skipped,
            "count reached"
        );
        t.stop();
        assert!(t.free.is_empty() && t.filled.is_empty() && !t.is_open());
    }
}
