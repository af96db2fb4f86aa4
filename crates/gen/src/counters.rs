//! What a generator core counts and shares: the supervisor's [`Control`], per-port and
//! per-stream counters, the per-second [`Tick`] each core publishes and the totals it returns
//! at the end ([`CoreResult`]). Plain integers owned by one core; merged by the supervisor.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;

/// The largest latency recorded exactly (100 s, in ns); larger values saturate.
pub const LATENCY_MAX_NS: u64 = 100_000_000_000;

/// A latency histogram: 1 ns to 100 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid histogram bounds")
}

/// What every core shares with the supervisor: when to stop, who is still sending, and the
/// per-second reports.
#[derive(Debug)]
pub struct Control {
    /// The tick at which every core stops (`u64::MAX` until the supervisor sets it).
    pub end: AtomicU64,
    /// Cores still sending.
    pub sending: AtomicU32,
    /// Per-second reports from every core.
    pub ticks: ArrayQueue<Tick>,
    /// Per-second reports that found the queue full.
    pub ticks_lost: AtomicU64,
}

impl Control {
    /// Control for `cores` cores.
    pub fn new(cores: u16) -> Arc<Control> {
        Arc::new(Control {
            end: AtomicU64::new(u64::MAX),
            sending: AtomicU32::new(u32::from(cores)),
            ticks: ArrayQueue::new(4096),
            ticks_lost: AtomicU64::new(0),
        })
    }
}

/// One port's counters on one core (or summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortCounters {
    /// Packets the port took for transmit.
    pub tx: u64,
    /// Their frame bytes, FCS included.
    pub tx_bytes: u64,
    /// Signature packets received.
    pub rx: u64,
    /// Their frame bytes, FCS included.
    pub rx_bytes: u64,
    /// Other packets received (not ours, not ARP for us): dropped.
    pub rx_other: u64,
    /// ARP requests answered.
    pub arp_replies: u64,
    /// Polls in which `tx_burst` took less than the whole batch (back-pressure).
    pub tx_full: u64,
    /// Packets not built because the pool had no buffer: their slots were taken later.
    pub alloc_fail: u64,
}

impl PortCounters {
    /// Adds `o` to `self`.
    pub fn add(&mut self, o: &PortCounters) {
        self.tx += o.tx;
        self.tx_bytes += o.tx_bytes;
        self.rx += o.rx;
        self.rx_bytes += o.rx_bytes;
        self.rx_other += o.rx_other;
        self.arp_replies += o.arp_replies;
        self.tx_full += o.tx_full;
        self.alloc_fail += o.alloc_fail;
    }
}

/// One second of one port on one core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortSecond {
    /// Packets sent.
    pub tx: u64,
    /// Frame bytes sent (FCS included).
    pub tx_bytes: u64,
    /// Signature packets received.
    pub rx: u64,
    /// Frame bytes received (FCS included).
    pub rx_bytes: u64,
}

/// One second of one stream on one core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSecond {
    /// Slots the schedule had (sent or skipped).
    pub intended: u64,
    /// Packets sent.
    pub tx: u64,
    /// Packets received.
    pub rx: u64,
}

/// One core's report of one second.
#[derive(Debug, Clone)]
pub struct Tick {
    /// The core.
    pub core: u16,
    /// Seconds since the start (0-based).
    pub second: u32,
    /// Per port.
    pub ports: Vec<PortSecond>,
    /// Per stream.
    pub streams: Vec<StreamSecond>,
    /// Latency (ns) of the packets received on each port in this second.
    pub latency: Vec<Histogram<u64>>,
}

/// One stream's totals on one core.
#[derive(Debug, Clone)]
pub struct StreamCore {
    /// Slots the schedule had (sent + skipped).
    pub intended: u64,
    /// Packets sent.
    pub tx: u64,
    /// Frame bytes sent (FCS included).
    pub tx_bytes: u64,
    /// Slots skipped by the catch-up policy.
    pub skipped: u64,
    /// The part of `skipped` that fell due while the stream's port was refusing transmits
    /// (the DUT's back-pressure); the rest is this core's lateness.
    pub skipped_refused: u64,
    /// Packets built but still unsent when the run ended (dropped).
    pub unsent: u64,
    /// Packets received (duplicates included).
    pub rx: u64,
    /// Frame bytes received.
    pub rx_bytes: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Reordered (RFC 4737).
    pub reordered: u64,
    /// Further behind than the reorder window.
    pub late: u64,
    /// Σ jitter × packets over flows, in ns (for a packet-weighted mean).
    pub jitter_weighted: f64,
    /// Latency histogram (ns).
    pub latency: Histogram<u64>,
}

/// A core's totals at the end.
#[derive(Debug, Clone)]
pub struct CoreResult {
    /// The core.
    pub core: u16,
    /// Per stream (every stream: zero where the core did not send or receive it).
    pub streams: Vec<StreamCore>,
    /// Per port.
    pub ports: Vec<PortCounters>,
}
