//! Per-stack TCP configuration: every knob of the engine, with the seeds' defaults.
//!
//! The seeds are the Windows Server 2003 TCP/IP documentation; where a registry parameter
//! exists its name is given (e.g. `TcpMaxDataRetransmissions`). Where the seed's default is a
//! historic choice a modern stack differs from, the field's doc says what the alternative is.

use burst_port::Nanos;

/// Whether an option of the RFC 7323 pair (window scale, timestamps) is used: the two bits of
/// the seeds' `Tcp1323Opts`, each with a third, passive setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Negotiate {
    /// Never sent, ignored when offered.
    Off,
    /// Only answered: sent on a SYN-ACK when the peer's SYN carried it (the seed's default for
    /// timestamps: "only used if the received SYN ... contains the Timestamp option").
    Answer,
    /// Offered on our SYN too (window scale: only when the receive buffer needs a shift, the
    /// seed's "negotiated on-demand based on SO_RCVBUF") and always answered.
    Offer,
}

/// Congestion control algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CongestionAlgorithm {
    /// RFC 5681 slow start / congestion avoidance with RFC 6582 NewReno fast recovery.
    NewReno,
    /// RFC 9438 CUBIC (β = 0.7, C = 0.4, fast convergence, Reno-friendly region).
    Cubic,
}

/// How losses are detected when SACK is in use (without SACK it is always duplicate ACKs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossDetection {
    /// RACK (RFC 8985): a segment is lost once one sent after it was delivered and a
    /// reordering window has passed; finds lost retransmissions and tail losses (with TLP).
    Rack,
    /// RFC 6675 / RFC 5681: `dup_ack_threshold` duplicate ACKs or SACKed segments above a hole.
    DupAck,
}

/// Configuration of every connection of a stack (copied into each connection at creation).
#[derive(Debug, Clone, PartialEq)]
pub struct TcpConfig {
    /// Largest MSS we advertise (before clamping to the path MTU − 40). Default 1460
    /// (Ethernet).
    pub mss: u16,
    /// Window scaling (RFC 7323 §2; seed: `Tcp1323Opts` bit 0). Default [`Negotiate::Offer`].
    pub window_scaling: Negotiate,
    /// Timestamps and PAWS (RFC 7323 §3–5; seed: `Tcp1323Opts` bit 1). Default
    /// [`Negotiate::Answer`] as in the seed; [`Negotiate::Offer`] is what Linux does.
    pub timestamps: Negotiate,
    /// Selective acknowledgments (RFC 2018; seed: `SackOpts`, on by default).
    pub sack: bool,
    /// Receive buffer in bytes (seed: `TcpWindowSize` / `SO_RCVBUF`): the window advertised
    /// at first, and always when `recv_autotune` is off; rounded up to a whole number of MSS
    /// at construction, and the advertised window is kept in MSS multiples. Default 64,240
    /// bytes: the seed's 64 KB for links above 100 Mbit/s, as 44 segments of 1460 so it fits
    /// the 16-bit window unscaled. Above 65535 a window scale is negotiated (seed example: a
    /// 1 MiB buffer gives shift 5).
    pub recv_buffer: usize,
    /// Receive-window auto-tuning (Linux's dynamic right-sizing, `tcp_rcv_space_adjust`):
    /// each receiver round trip, the window may grow to twice the bytes the application read
    /// in it, up to `recv_buffer_max`. Default on; off advertises the fixed `recv_buffer`.
    pub recv_autotune: bool,
    /// Ceiling of the auto-tuned window, bytes (ignored when below `recv_buffer` or with
    /// `recv_autotune` off). The receive ring is allocated at this size at construction (its
    /// pages are touched only as the window reaches them), and the window scale is chosen for
    /// it. Default 1 MiB: 2.5 times the bandwidth-delay product of 10 Gbit/s at 0.3 ms (Linux
    /// lets its window grow to `tcp_rmem`'s 6 MiB).
    pub recv_buffer_max: usize,
    /// Send buffer in bytes (data accepted by `send` and not yet acknowledged). Default 256 KiB:
    /// it bounds the bytes in flight, and 64 KiB held a bulk sender to ~2.7 Gbit/s at a
    /// 0.2 ms RTT (docs/benchmarks.md "TCP under loss"); Linux grows its own to 4 MiB.
    pub send_buffer: usize,
    /// Delayed-ACK timer (RFC 1122 §4.2.3.2; seed: 200 ms, `TcpDelAckTicks`); `None` sends an
    /// ACK for every segment.
    pub delayed_ack: Option<Nanos>,
    /// Data segments received before an ACK is sent at once (seed: every second segment).
    pub ack_every: u8,
    /// Nagle's algorithm (RFC 896) on new connections; `set_nodelay` turns it off per
    /// connection (seed: on, `TCP_NODELAY` to disable).
    pub nagle: bool,
    /// Initial retransmission timeout (seed: 3 s, `TcpInitialRtt`). RFC 6298 §2.1 recommends
    /// 1 s instead (RFC 2988's 3 s remains allowed as a fallback).
    pub initial_rto: Nanos,
    /// Lower bound of the RTO. Default 300 ms: above the 200 ms delayed-ACK timer so a delayed
    /// ACK alone never causes a spurious timeout (RFC 6298 §2.4 says 1 s; Linux uses 200 ms).
    pub min_rto: Nanos,
    /// Upper bound of the RTO and of every backed-off timer (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Nanos,
    /// SYN retransmissions before `connect` fails (seed: `TcpMaxConnectRetransmissions` 2,
    /// so SYNs at 0, 3 and 9 s and failure at 21 s).
    pub syn_retries: u8,
    /// Retransmissions of a data segment before the connection is aborted (seed:
    /// `TcpMaxDataRetransmissions` 5; the timer doubles each time).
    pub data_retries: u8,
    /// Duplicate ACKs that trigger fast retransmit (seed: `TcpMaxDupAcks` 3, RFC 5681). With
    /// RACK it is RFC 8985's `DupThresh`: that many SACKed segments, before any reordering was
    /// seen, retransmit at once.
    pub dup_ack_threshold: u8,
    /// Loss detection with SACK. Default [`LossDetection::Rack`] (RFC 8985, what Linux does);
    /// [`LossDetection::DupAck`] is the RFC 6675 counting the seeds describe.
    pub loss_detection: LossDetection,
    /// Tail loss probes (RFC 8985 §7; with RACK only): when the ACKs stop, probe after about
    /// two round trips instead of waiting for the retransmission timeout. Default on.
    pub tlp: bool,
    /// What a tail loss probe sends when there is unsent data the peer's window takes: one new
    /// segment (`true`, the default, RFC 8985 §7.3's SHOULD), or the last segment sent again
    /// (`false`). When the probe fired because the ACK of a whole flight was lost, the peer
    /// has everything: a resent segment gets an immediate ACK with a D-SACK (RFC 5681 §4.2,
    /// RFC 2883) and no congestion response, while one new segment may wait for the peer's
    /// delayed-ACK timer (40 ms on Linux) — docs/benchmarks.md "TCP under loss".
    pub tlp_new_data: bool,
    /// Undo the congestion response to a retransmission that proves spurious (Eifel, RFC 3522
    /// / 4015, with timestamps; D-SACK, RFC 3708) and resume where sending stood. Default on.
    pub undo: bool,
    /// Keep-alive idle time and probe interval (seed: `KeepAliveTime` 2 h,
    /// `KeepAliveInterval` 1 s); `None` (the default) disables keep-alives.
    pub keepalive: Option<KeepAlive>,
    /// TIME-WAIT duration, 2×MSL (seed: `TcpTimedWaitDelay` 240 s, at least 30 s).
    pub time_wait: Nanos,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_window: u32,
    /// Congestion control algorithm. Default CUBIC.
    pub congestion: CongestionAlgorithm,
    /// PMTU black-hole detection (seed: `EnablePMTUBHDetect`, off by default): after two
    /// timeouts of a full-sized segment, fall back to a 536-byte MSS.
    pub pmtu_blackhole_detection: bool,
    /// Path MTU discovery (seed: `EnablePMTUDiscovery`, on). Off: a 536-byte MSS for every
    /// destination that is not on a local subnet.
    pub pmtu_discovery: bool,
}

/// Keep-alive timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeepAlive {
    /// Idle time before the first probe (seed: `KeepAliveTime`, 2 h).
    pub time: Nanos,
    /// Interval between unanswered probes (seed: `KeepAliveInterval`, 1 s).
    pub interval: Nanos,
    /// Unanswered probes before the connection is aborted (Windows Server 2003 reuses
    /// `TcpMaxDataRetransmissions`, 5).
    pub probes: u8,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            time: Nanos::from_secs(2 * 3600),
            interval: Nanos::from_secs(1),
            probes: 5,
        }
    }
}

/// Smallest TIME-WAIT the seed allows.
pub const MIN_TIME_WAIT: Nanos = Nanos::from_secs(30);
/// MSS used when nothing better is known (RFC 9293 §3.7.1, RFC 1122 §4.2.2.6).
pub const DEFAULT_MSS: u16 = 536;
/// Smallest MTU accepted from ICMP (seed: "The minimum MTU permitted is 88 bytes").
pub const MIN_MTU: u16 = 88;

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            window_scaling: Negotiate::Offer,
            timestamps: Negotiate::Answer,
            sack: true,
            recv_buffer: 64_240,
            recv_autotune: true,
            recv_buffer_max: 1 << 20,
            send_buffer: 256 * 1024,
            delayed_ack: Some(Nanos::from_millis(200)),
            ack_every: 2,
            nagle: true,
            initial_rto: Nanos::from_secs(3),
            min_rto: Nanos::from_millis(300),
            max_rto: Nanos::from_secs(60),
            syn_retries: 2,
            data_retries: 5,
            dup_ack_threshold: 3,
            loss_detection: LossDetection::Rack,
            tlp: true,
            tlp_new_data: true,
            undo: true,
            keepalive: None,
            time_wait: Nanos::from_secs(240),
            initial_window: 10,
            congestion: CongestionAlgorithm::Cubic,
            pmtu_blackhole_detection: false,
            pmtu_discovery: true,
        }
    }
}

impl TcpConfig {
    /// The configuration with out-of-range values pulled into range (TIME-WAIT at least 30 s,
    /// MSS at least 88 − 40, at least one segment of buffer, thresholds at least 1).
    pub fn sanitized(&self) -> TcpConfig {
        let mut c = self.clone();
        c.time_wait = c.time_wait.max(MIN_TIME_WAIT);
        c.mss = c.mss.max(MIN_MTU - 40);
        c.recv_buffer = c.recv_buffer.clamp(usize::from(c.mss), 1 << 30);
        c.recv_buffer_max = c.recv_buffer_max.clamp(c.recv_buffer, 1 << 30);
        c.send_buffer = c.send_buffer.clamp(1, 1 << 30);
        c.ack_every = c.ack_every.max(1);
        c.dup_ack_threshold = c.dup_ack_threshold.max(1);
        c.initial_window = c.initial_window.max(1);
        c.min_rto = c.min_rto.max(Nanos::from_millis(1));
        c.max_rto = c.max_rto.max(c.min_rto);
        c.initial_rto = c.initial_rto.clamp(c.min_rto, c.max_rto);
        if let Some(k) = &mut c.keepalive {
            k.interval = k.interval.max(Nanos::from_millis(1));
            k.time = k.time.max(Nanos::from_millis(1));
        }
        c
    }

    /// The window scale shift our receive ring needs (RFC 7323 §2.3: at most 14).
    pub fn window_shift(&self) -> u8 {
        let buf = self.recv_ring_size();
        let mut s = 0u8;
        while s < 14 && (buf >> s) > 65535 {
            s += 1;
        }
        s
    }

    /// The receive buffer rounded up to whole MSS (seed: "17 KB rounded up to twelve 1460-byte
    /// segments").
    pub fn recv_buffer_rounded(&self) -> usize {
        let mss = usize::from(self.mss.max(1));
        self.recv_buffer.div_ceil(mss) * mss
    }

    /// Bytes of the receive ring: the auto-tuning ceiling (at least `recv_buffer`) or, with
    /// auto-tuning off, `recv_buffer`; rounded up to whole MSS.
    pub fn recv_ring_size(&self) -> usize {
        let mss = usize::from(self.mss.max(1));
        let size = if self.recv_autotune {
            self.recv_buffer.max(self.recv_buffer_max)
        } else {
            self.recv_buffer
        };
        size.div_ceil(mss) * mss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seeds() {
        let c = TcpConfig::default();
        assert_eq!(c.initial_rto, Nanos::from_secs(3));
        assert_eq!(
            (c.syn_retries, c.data_retries, c.dup_ack_threshold),
            (2, 5, 3)
        );
        assert_eq!(c.delayed_ack, Some(Nanos::from_millis(200)));
        assert_eq!(c.time_wait, Nanos::from_secs(240));
        assert!(c.keepalive.is_none() && c.nagle && c.sack && c.pmtu_discovery);
        assert_eq!(KeepAlive::default().time, Nanos::from_secs(7200));
    }

    #[test]
    fn buffer_rounding_and_shift() {
        let c = TcpConfig {
            recv_buffer: 17 * 1024,
            recv_autotune: false,
            ..TcpConfig::default()
        };
        assert_eq!(c.recv_buffer_rounded(), 17_520);
        assert_eq!(c.recv_ring_size(), 17_520);
        assert_eq!(c.window_shift(), 0);
        let c = TcpConfig {
            recv_buffer: 1 << 20,
            recv_autotune: false,
            ..TcpConfig::default()
        };
        assert_eq!(c.window_shift(), 5);
        // Auto-tuning: the ring and the shift are the ceiling's, the first window recv_buffer.
        let c = TcpConfig::default();
        assert_eq!(c.recv_buffer_rounded(), 64_240);
        assert_eq!((c.recv_ring_size(), c.window_shift()), (1_049_740, 5));
        let c = TcpConfig {
            recv_buffer: 4 << 20,
            ..TcpConfig::default()
        };
        assert_eq!(c.recv_ring_size(), c.recv_buffer_rounded());
        assert_eq!(c.sanitized().recv_buffer_max, 4 << 20);
        let c = TcpConfig {
            time_wait: Nanos::from_secs(1),
            ..TcpConfig::default()
        }
        .sanitized();
        assert_eq!(c.time_wait, MIN_TIME_WAIT);
    }
}
