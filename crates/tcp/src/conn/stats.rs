//! A connection's counters and snapshots for netstat-like tools.

use super::*;

/// Monotonic counters of one connection; every drop has its own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Segments handed to `on_segment`.
    pub segs_in: u64,
    /// Segments returned by `poll_transmit`.
    pub segs_out: u64,
    /// Super-segments returned by `poll_transmit_tso` (their pieces count in `segs_out`).
    pub tso_segments: u64,
    /// New payload bytes sent (first transmissions).
    pub bytes_sent: u64,
    /// Payload bytes retransmitted.
    pub bytes_retransmitted: u64,
    /// Payload bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments retransmitted (any cause).
    pub retransmits: u64,
    /// Retransmission timer expirations.
    pub timeouts: u64,
    /// Fast-recovery episodes (dup-ACK, SACK or RACK triggered).
    pub fast_recoveries: u64,
    /// Segments RACK marked lost (RFC 8985 §6.2).
    pub rack_losses: u64,
    /// Retransmissions RACK found lost in turn (sent again without waiting for the RTO).
    pub lost_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// Losses a tail loss probe repaired (its retransmission was needed: RFC 8985 §7.4).
    pub tlp_recoveries: u64,
    /// Retransmission timeouts found spurious (Eifel or D-SACK) and undone.
    pub spurious_rtos: u64,
    /// Fast recoveries found spurious (Eifel or D-SACK) and undone.
    pub spurious_recoveries: u64,
    /// D-SACK blocks received (RFC 2883: the peer got something twice).
    pub dsacks_received: u64,
    /// Times the transmission log filled up and loss detection fell back to duplicate ACKs.
    pub log_overflows: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Challenge ACKs not sent: over the per-second limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// Zero-window probes sent.
    pub persist_probes: u64,
    /// Keep-alive probes sent.
    pub keepalive_probes: u64,
    /// MSS reductions from ICMP fragmentation-needed.
    pub pmtu_reductions: u64,
    /// MSS fallbacks by black-hole detection.
    pub blackhole_fallbacks: u64,
    /// Out-of-order segments received.
    pub ooo_segments: u64,
    /// Segments wholly duplicate (below RCV.NXT).
    pub dup_segments: u64,
    /// Dropped: the connection is closed.
    pub drop_closed: u64,
    /// Dropped: PAWS (RFC 7323 §5) found an old timestamp.
    pub drop_paws: u64,
    /// Dropped: timestamps were negotiated but the segment had none (RFC 7323 §3.2).
    pub drop_no_timestamp: u64,
    /// Dropped: sequence number outside the receive window (RFC 9293 §3.10.7.4).
    pub drop_out_of_window: u64,
    /// Dropped: reset outside the window, or in TIME-WAIT (RFC 1337).
    pub drop_rst: u64,
    /// Dropped: ACK of something never sent, or too old (RFC 5961 §5).
    pub drop_bad_ack: u64,
    /// Dropped: no ACK bit in a synchronized state.
    pub drop_no_ack: u64,
    /// Dropped: SYN-SENT got a segment that is neither a SYN nor a valid reset.
    pub drop_syn_sent: u64,
    /// Dropped: out-of-order data when the reassembly ranges were full.
    pub drop_ooo_full: u64,
    /// Payload bytes cut off beyond the receive buffer.
    pub drop_beyond_buffer: u64,
    /// Ignored ICMP errors (quoted sequence number not in flight, RFC 5927 §4.1).
    pub icmp_ignored: u64,
}

/// A snapshot of one connection for netstat-like tools.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnStats {
    /// State.
    pub state: State,
    /// Congestion window (bytes; inflated during NewReno recovery).
    pub cwnd: usize,
    /// Slow-start threshold (bytes; `usize::MAX` before the first loss).
    pub ssthresh: usize,
    /// Smoothed RTT.
    pub srtt: Option<Nanos>,
    /// RTT variation.
    pub rttvar: Nanos,
    /// Current retransmission timeout (not backed off).
    pub rto: Nanos,
    /// MSS we send with.
    pub snd_mss: u16,
    /// MSS we advertised.
    pub adv_mss: u16,
    /// Bytes sent and not yet acknowledged.
    pub bytes_in_flight: usize,
    /// RFC 6675 `pipe`: bytes estimated to be in the network.
    pub pipe: usize,
    /// Bytes in the send queue (unacknowledged plus unsent).
    pub send_queue: usize,
    /// Bytes waiting to be read.
    pub recv_queue: usize,
    /// Peer's receive window (scaled, bytes).
    pub snd_wnd: usize,
    /// Receive window we last advertised (bytes).
    pub rcv_wnd: usize,
    /// Negotiated options: window scale shifts (send, receive) when on.
    pub window_scale: Option<(u8, u8)>,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// Counters.
    pub counters: Counters,
}

/// Loss-recovery counters a stack sums over its connections (`netstat -s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryCounts {
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Fast recoveries.
    pub fast_recoveries: u64,
    /// Segments RACK marked lost.
    pub rack_losses: u64,
    /// Retransmissions found lost again.
    pub lost_retransmits: u64,
    /// Tail loss probes sent.
    pub tlp_probes: u64,
    /// Losses repaired by a tail loss probe.
    pub tlp_recoveries: u64,
    /// Timeouts undone as spurious.
    pub spurious_rtos: u64,
    /// Fast recoveries undone as spurious.
    pub spurious_recoveries: u64,
    /// D-SACK blocks received.
    pub dsacks_received: u64,
    /// Transmission log overflows (RACK fell back to duplicate ACKs for a flight).
    pub log_overflows: u64,
}

impl RecoveryCounts {
    #[inline]
    pub(super) fn of(c: &Counters) -> RecoveryCounts {
        RecoveryCounts {
            timeouts: c.timeouts,
            fast_recoveries: c.fast_recoveries,
            rack_losses: c.rack_losses,
            lost_retransmits: c.lost_retransmits,
            tlp_probes: c.tlp_probes,
            tlp_recoveries: c.tlp_recoveries,
            spurious_rtos: c.spurious_rtos,
            spurious_recoveries: c.spurious_recoveries,
            dsacks_received: c.dsacks_received,
            log_overflows: c.log_overflows,
        }
    }

    /// The sum of the counters (wrapping; they only grow, so an unchanged sum means
    /// unchanged counters).
    #[inline]
    pub(super) fn sum(&self) -> u64 {
        self.timeouts
            .wrapping_add(self.fast_recoveries)
            .wrapping_add(self.rack_losses)
            .wrapping_add(self.lost_retransmits)
            .wrapping_add(self.tlp_probes)
            .wrapping_add(self.tlp_recoveries)
            .wrapping_add(self.spurious_rtos)
            .wrapping_add(self.spurious_recoveries)
            .wrapping_add(self.dsacks_received)
            .wrapping_add(self.log_overflows)
    }

    pub(super) fn minus(self, o: RecoveryCounts) -> RecoveryCounts {
        RecoveryCounts {
            timeouts: self.timeouts - o.timeouts,
            fast_recoveries: self.fast_recoveries - o.fast_recoveries,
            rack_losses: self.rack_losses - o.rack_losses,
            lost_retransmits: self.lost_retransmits - o.lost_retransmits,
            tlp_probes: self.tlp_probes - o.tlp_probes,
            tlp_recoveries: self.tlp_recoveries - o.tlp_recoveries,
            spurious_rtos: self.spurious_rtos - o.spurious_rtos,
            spurious_recoveries: self.spurious_recoveries - o.spurious_recoveries,
            dsacks_received: self.dsacks_received - o.dsacks_received,
            log_overflows: self.log_overflows - o.log_overflows,
        }
    }
}
