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
    /// Frames missed: over the capture's rate budget.
    pub rate_limited: AtomicU64,
    /// Nanoseconds of budget one frame costs (0: no rate limit); set by `start`.
    cost_ns: AtomicU64,
    /// The worker's budget left after its last burst, ns (only the worker writes it).
    credit_ns: AtomicU64,
    /// When the worker last topped the budget up (node time, ns; 0: not yet).
    last_ns: AtomicU64,
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
            rate_limited: AtomicU64::new(0),
            cost_ns: AtomicU64::new(0),
            credit_ns: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
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
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        port: PortId,
        dirs: u8,
        filter: &CaptureFilter,
        count: u64,
        snaplen: usize,
        slots: usize,
        rate: u64,
    ) {
        self.stop();
        let cost = 1_000_000_000u64.checked_div(rate).map_or(0, |c| c.max(1));
        self.cost_ns.store(cost, Ordering::Relaxed);
        self.credit_ns
            .store(cost * BUDGET_FRAMES, Ordering::Relaxed);
        self.last_ns.store(0, Ordering::Relaxed);
        self.rate_limited.store(0, Ordering::Relaxed);
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

    /// Worker: a burst's view of the tap at `now_ns` (its rate budget topped up).
    #[inline]
    pub fn begin(&self, now_ns: u64) -> BurstTap {
        let cost_ns = self.cost_ns.load(Ordering::Relaxed);
        let mut credit_ns = self.credit_ns.load(Ordering::Relaxed);
        if cost_ns > 0 {
            let last = self.last_ns.load(Ordering::Relaxed);
            let elapsed = if last == 0 {
                0
            } else {
                now_ns.saturating_sub(last)
            };
            credit_ns = credit_ns
                .saturating_add(elapsed)
                .min(cost_ns * BUDGET_FRAMES);
            self.last_ns.store(now_ns, Ordering::Relaxed);
        }
        BurstTap {
            starved: false,
            cost_ns,
            credit_ns,
            no_slot: 0,
            over_rate: 0,
            filter: self.filter.get(),
            done: self.remaining.load(Ordering::Relaxed) == 0,
        }
    }

    /// Worker: the end of a burst: its budget kept, its misses added to the capture's counts
    /// (one atomic add per burst that missed any). Returns (no slot, over the rate).
    #[inline]
    pub fn end(&self, b: BurstTap) -> (u64, u64) {
        if b.cost_ns > 0 {
            self.credit_ns.store(b.credit_ns, Ordering::Relaxed);
        }
        if b.no_slot > 0 {
            self.dropped.fetch_add(b.no_slot, Ordering::Relaxed);
        }
        if b.over_rate > 0 {
            self.rate_limited.fetch_add(b.over_rate, Ordering::Relaxed);
        }
        (b.no_slot, b.over_rate)
    }

    /// Worker: copies `frame` (of a port and direction [`wants`](Self::wants) said yes to) if
    /// the filter matches and the rate budget allows, then lets `fix` adjust the copy. Once a
    /// burst found no free slot it stops touching the queues, and frames over the budget cost
    /// a subtraction: a capture the reader (or the budget) cannot keep up with costs the worker
    /// a filter test per frame, not a copy.
    #[inline]
    pub fn offer(&self, b: &mut BurstTap, seen: Seen<'_>, fix: impl FnOnce(&mut [u8])) -> Offer {
        let Seen {
            frame,
            orig_len,
            at_ns,
            port,
            dir,
        } = seen;
        if b.done || !b.filter.matches(frame) {
            return Offer::Skipped;
        }
        if b.cost_ns > 0 && b.credit_ns < b.cost_ns {
            b.over_rate += 1;
            return Offer::OverRate;
        }
        if b.starved {
            b.no_slot += 1;
            return Offer::NoSlot;
        }
        let Some(mut slot) = self.free.pop() else {
            b.starved = true;
            b.no_slot += 1;
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
            b.no_slot += 1;
            return Offer::NoSlot;
        }
        b.credit_ns -= b.cost_ns;
        Offer::Captured
    }
}

/// Frames of budget a worker may spend at once after an idle spell (the bucket's depth).
pub const BUDGET_FRAMES: u64 = 64;

/// One burst's dealings with a capture (see [`CaptureTap::begin`]).
#[derive(Debug)]
pub struct BurstTap {
    starved: bool,
    cost_ns: u64,
    credit_ns: u64,
    no_slot: u64,
    over_rate: u64,
    /// The filter and whether the count was reached, read once per burst.
    filter: CaptureFilter,
    done: bool,
}

impl BurstTap {
    /// When the budget is spent and every frame matches (no filter): counts `n` frames over
    /// the rate at once and says so, so a capture at full rate costs a burst one test.
    #[inline]
    pub fn skip_all_over_rate(&mut self, n: usize) -> bool {
        let spent = self.cost_ns > 0 && self.credit_ns < self.cost_ns;
        if spent && !self.done && self.filter == CaptureFilter::default() {
            self.over_rate += n as u64;
            return true;
        }
        false
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
    /// Wanted, but over the capture's rate budget (counted as rate limited).
    OverRate,
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
        let mut b = t.begin(1);
        assert_eq!(
            t.offer(&mut b, seen(&f, 1), |_| {}),
            Offer::Skipped,
            "closed: nothing"
        );
        t.start(PortId(0), IN, &CaptureFilter::default(), 100, 20, 2, 0);
        assert!(t.wants(PortId(0), IN));
        assert!(!t.wants(PortId(1), IN), "another port");
        assert!(!t.wants(PortId(0), OUT), "another direction");
        let mut b = t.begin(1);
        assert_eq!(t.offer(&mut b, seen(&f, 1), |_| {}), Offer::Captured);
        assert_eq!(t.offer(&mut b, seen(&f, 2), |_| {}), Offer::Captured);
        assert!(!b.starved);
        assert_eq!(
            t.offer(&mut b, seen(&f, 3), |_| {}),
            Offer::NoSlot,
            "no free slot"
        );
        assert!(b.starved, "the burst remembers it");
        assert_eq!(t.offer(&mut b, seen(&f, 4), |_| {}), Offer::NoSlot);
        assert_eq!(t.end(b), (2, 0));
        assert_eq!(t.dropped.load(Ordering::Relaxed), 2);
        let c = t.filled.pop().unwrap();
        assert_eq!((c.len, c.orig_len, c.at_ns), (20, f.len() as u32, 1));
        assert_eq!(&c.slot[..20], &f[..20], "cut to the snap length");
        // The slot back: a new burst captures again, up to the count.
        t.free.push(c.slot).unwrap();
        let mut b = t.begin(5);
        assert_eq!(t.offer(&mut b, seen(&f, 5), |_| {}), Offer::Captured);
        assert_eq!(t.remaining.load(Ordering::Relaxed), 97);
        t.end(b);
        t.remaining.store(0, Ordering::Relaxed);
        let c = t.filled.pop().unwrap();
        t.free.push(c.slot).unwrap();
        let mut b = t.begin(6);
        assert_eq!(
            t.offer(&mut b, seen(&f, 6), |_| {}),
            Offer::Skipped,
            "count reached"
        );
        t.end(b);
        t.stop();
        assert!(t.free.is_empty() && t.filled.is_empty() && !t.is_open());
    }

    #[test]
    fn the_rate_budget_bounds_copies_per_second() {
        let t = CaptureTap::default();
        let f = frame(17, [198, 18, 0, 1], [198, 18, 0, 2], 1, 2);
        // 1000 frames/s: a frame costs 1 ms of budget, the bucket holds 64.
        t.start(
            PortId(0),
            IN,
            &CaptureFilter::default(),
            1_000_000,
            64,
            1024,
            1000,
        );
        let mut captured = 0;
        let mut over = 0;
        // 10 s of 32-frame bursts every 100 us: 3.2 M frames offered.
        for i in 1..=100_000u64 {
            let now = i * 100_000;
            let mut b = t.begin(now);
            for _ in 0..32 {
                match t.offer(&mut b, seen(&f, now), |_| {}) {
                    Offer::Captured => captured += 1,
                    Offer::OverRate => over += 1,
                    o => panic!("{o:?}"),
                }
            }
            t.end(b);
            while let Some(c) = t.filled.pop() {
                t.free.push(c.slot).unwrap();
            }
        }
        // The first bucket's 64 and then 1000 per second.
        assert!((10_000..=10_064 + 1).contains(&captured), "{captured}");
        assert_eq!(captured + over, 3_200_000);
        assert_eq!(t.rate_limited.load(Ordering::Relaxed), over);
        assert_eq!(t.dropped.load(Ordering::Relaxed), 0);
        // A spent budget and no filter: a whole burst counted at once.
        let mut b = t.begin(100_000 * 100_000 + 1);
        assert!(b.skip_all_over_rate(32));
        assert_eq!(t.end(b), (0, 32));
        // Without a rate: every frame (slots given back each burst).
        t.start(
            PortId(0),
            IN,
            &CaptureFilter::default(),
            1_000_000,
            64,
            1024,
            0,
        );
        let mut b = t.begin(1);
        for _ in 0..32 {
            assert_eq!(t.offer(&mut b, seen(&f, 1), |_| {}), Offer::Captured);
        }
        assert_eq!(t.end(b), (0, 0));
    }
}
