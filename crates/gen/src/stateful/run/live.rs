//! The counters a core publishes for the supervisor's once-a-second live line.

use super::*;

/// Counters a core publishes for the live line (cumulative; the supervisor takes differences).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct LiveCounters {
    pub(super) connects: AtomicU64,
    pub(super) established: AtomicU64,
    pub(super) responses: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) rx_bytes: AtomicU64,
    pub(super) tx_bytes: AtomicU64,
    pub(super) open: AtomicU64,
    pub(super) srv_requests: AtomicU64,
    pub(super) srv_accepted: AtomicU64,
    pub(super) srv_active: AtomicU64,
}

/// A [`LiveCounters`] read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Connections opened (SYNs).
    pub connects: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Responses complete.
    pub responses: u64,
    /// Failures (any reason).
    pub failures: u64,
    /// Bytes received by the clients and servers.
    pub rx_bytes: u64,
    /// Bytes queued by the clients and servers.
    pub tx_bytes: u64,
    /// Client connections open now.
    pub open: u64,
    /// Requests the servers answered.
    pub srv_requests: u64,
    /// Connections the servers accepted.
    pub srv_accepted: u64,
    /// Server connections open now.
    pub srv_active: u64,
}

impl LiveCounters {
    pub(super) fn read(&self) -> Snapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            connects: l(&self.connects),
            established: l(&self.established),
            responses: l(&self.responses),
            failures: l(&self.failures),
            rx_bytes: l(&self.rx_bytes),
            tx_bytes: l(&self.tx_bytes),
            open: l(&self.open),
            srv_requests: l(&self.srv_requests),
            srv_accepted: l(&self.srv_accepted),
            srv_active: l(&self.srv_active),
        }
    }
}

/// One second of the run (differences of the cores' counters, summed over cores).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the start.
    pub second: u32,
    /// New connections this second.
    pub cps: u64,
    /// Client connections open at its end.
    pub concurrency: u64,
    /// Responses this second.
    pub rps: u64,
    /// Bytes received this second.
    pub rx_bytes: u64,
    /// Bytes queued this second.
    pub tx_bytes: u64,
    /// Failures this second.
    pub failures: u64,
    /// Requests the servers answered this second.
    pub srv_rps: u64,
    /// Server connections open at its end.
    pub srv_active: u64,
}

/// The live line of one second.
pub fn live_line(s: &Second) -> String {
    let si = |v: u64| {
        let v = v as f64;
        if v >= 1e9 {
            format!("{:.2}G", v / 1e9)
        } else if v >= 1e6 {
            format!("{:.2}M", v / 1e6)
        } else if v >= 1e3 {
            format!("{:.1}k", v / 1e3)
        } else {
            format!("{v:.0}")
        }
    };
    format!(
        "{:>4}s  cps {:>7}  conc {:>7}  req/s {:>7}  rx {:>7}B/s  tx {:>7}B/s  fail {:>5}  | srv req/s {:>7} active {:>7}",
        s.second + 1,
        si(s.cps),
        si(s.concurrency),
        si(s.rps),
        si(s.rx_bytes),
        si(s.tx_bytes),
        si(s.failures),
        si(s.srv_rps),
        si(s.srv_active),
    )
}
