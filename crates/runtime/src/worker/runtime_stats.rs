//! Where a worker's time goes (the `rt` section of its counters; VPP's `show runtime` per
//! core): polls, idle polls, receive burst sizes and the time between polls, as fixed-bucket
//! histograms an exporter turns into Prometheus histograms and `ctl top` into averages.
//! A few additions per poll; nothing per packet.

use burst_port::Nanos;

/// Upper bounds (inclusive) of the receive burst size buckets; the last takes the rest.
pub const BURST_BOUNDS: [u64; 6] = [1, 3, 7, 15, 31, u64::MAX];
/// Names of the burst size buckets, in [`BURST_BOUNDS`] order.
pub const BURST_NAMES: [&str; 6] = [
    "burst_le_1",
    "burst_le_3",
    "burst_le_7",
    "burst_le_15",
    "burst_le_31",
    "burst_le_inf",
];
/// Upper bounds (inclusive, ns) of the loop time buckets; the last takes the rest.
pub const LOOP_BOUNDS_NS: [u64; 8] = [
    1_000,
    4_000,
    16_000,
    64_000,
    256_000,
    1_000_000,
    4_000_000,
    u64::MAX,
];
/// Names of the loop time buckets, in [`LOOP_BOUNDS_NS`] order.
pub const LOOP_NAMES: [&str; 8] = [
    "loop_le_1us",
    "loop_le_4us",
    "loop_le_16us",
    "loop_le_64us",
    "loop_le_256us",
    "loop_le_1ms",
    "loop_le_4ms",
    "loop_le_inf",
];

/// Names of the per-hook counters (packets a configured hook looked at), in
/// [`Hook`](crate::trace::Hook) order.
pub const HOOK_NAMES: [&str; 5] = [
    "hook_ipsec",
    "hook_filter_in",
    "hook_firewall",
    "hook_tcpip_filtering",
    "hook_filter_out",
];

/// A worker's loop counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuntimeStats {
    /// Polls of the worker's queues.
    pub polls: u64,
    /// Polls that found nothing to do.
    pub idle_polls: u64,
    /// Sleeps after such polls (`[eal] idle_sleep`).
    pub idle_sleeps: u64,
    /// Receive bursts that brought packets.
    pub rx_bursts: u64,
    /// Packets those bursts brought (average burst = rx_packets / rx_bursts).
    pub rx_packets: u64,
    /// Receive bursts by size (see [`BURST_BOUNDS`]).
    pub burst_buckets: [u64; 6],
    /// Time between the starts of consecutive polls, summed (ns).
    pub loop_ns_total: u64,
    /// The part of it after polls that had work (busy share = busy / loop).
    pub busy_ns_total: u64,
    /// Loops by duration (see [`LOOP_BOUNDS_NS`]).
    pub loop_buckets: [u64; 8],
    /// The longest time between the starts of two consecutive polls since the worker started
    /// (ns): how long packets waited in the receive rings at worst, whether the worker's own
    /// work or its CPU being taken away (another thread, the hypervisor) held it up.
    pub loop_max_ns: u64,
    /// Frames copied to a running `ctl capture`.
    pub capture_frames: u64,
    /// Frames a running capture missed: no free slot (the reader is behind).
    pub capture_dropped: u64,
    /// Frames a running capture let go: over its rate budget (`ctl capture --max-rate`).
    pub capture_rate_limited: u64,
    /// Packets each configured hook looked at (a hook that is off counts nothing), in
    /// [`HOOK_NAMES`] order: where the hooks' work goes (`ctl top`'s busiest hooks).
    pub hooks: [u64; 5],
}

impl RuntimeStats {
    /// A receive burst of `n` packets (n > 0).
    #[inline]
    pub fn record_burst(&mut self, n: usize) {
        let n = n as u64;
        self.rx_bursts += 1;
        self.rx_packets += n;
        let i = BURST_BOUNDS.iter().position(|&b| n <= b).unwrap_or(5);
        self.burst_buckets[i] += 1;
    }

    /// A poll starting at `now`, after one that started at `prev` and did work (`busy`).
    #[inline]
    pub fn record_loop(&mut self, prev: Nanos, now: Nanos, busy: bool) {
        let ns = now.saturating_sub(prev).0;
        self.loop_ns_total += ns;
        if busy {
            self.busy_ns_total += ns;
        }
        let i = LOOP_BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(7);
        self.loop_buckets[i] += 1;
        self.loop_max_ns = self.loop_max_ns.max(ns);
    }

    /// Every counter with its name (the `rt` section).
    pub fn each(&self, f: &mut impl FnMut(&'static str, u64)) {
        f("polls", self.polls);
        f("idle_polls", self.idle_polls);
        f("idle_sleeps", self.idle_sleeps);
        f("rx_bursts", self.rx_bursts);
        f("rx_packets", self.rx_packets);
        for (n, v) in BURST_NAMES.iter().zip(self.burst_buckets) {
            f(n, v);
        }
        f("loop_ns_total", self.loop_ns_total);
        f("busy_ns_total", self.busy_ns_total);
        for (n, v) in LOOP_NAMES.iter().zip(self.loop_buckets) {
            f(n, v);
        }
        f("loop_max_ns", self.loop_max_ns);
        f("capture_frames", self.capture_frames);
        f("capture_dropped", self.capture_dropped);
        f("capture_rate_limited", self.capture_rate_limited);
        for (n, v) in HOOK_NAMES.iter().zip(self.hooks) {
            f(n, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        let mut r = RuntimeStats::default();
        for n in [1, 2, 3, 4, 32, 64] {
            r.record_burst(n);
        }
        assert_eq!(r.burst_buckets, [1, 2, 1, 0, 0, 2]);
        assert_eq!((r.rx_bursts, r.rx_packets), (6, 106));
        let t = |us| Nanos::from_micros(us);
        r.record_loop(t(0), t(1), true);
        r.record_loop(t(1), t(3), false);
        r.record_loop(t(3), t(5003), true);
        assert_eq!(r.loop_buckets, [1, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!((r.loop_ns_total, r.busy_ns_total), (5_003_000, 5_001_000));
        // The longest gap stays the longest when shorter ones follow.
        assert_eq!(r.loop_max_ns, 5_000_000);
        r.record_loop(t(5003), t(5004), true);
        assert_eq!(r.loop_max_ns, 5_000_000);
        let mut names = Vec::new();
        r.each(&mut |n, v| names.push((n, v)));
        assert_eq!(names.len(), 30);
        assert!(names.contains(&("loop_max_ns", 5_000_000)));
    }
}
