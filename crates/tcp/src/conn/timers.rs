//! Timers: retransmission (RFC 6298 with the seeds' retry limits), delayed ACK, persist,
//! keep-alive and TIME-WAIT. The connection keeps one deadline per timer; the driver arms a
//! single wheel entry for [`Connection::next_deadline`].

use burst_port::Nanos;

use super::{dist, ConnError, Connection, Events, Probe, State};
use crate::cc::CongestionControl;
use crate::config::DEFAULT_MSS;

impl Connection {
    /// The earliest time [`Connection::on_timeout`] has work to do.
    #[inline]
    pub fn next_deadline(&self) -> Option<Nanos> {
        // Called after every input by the driver: a branch-free minimum over the five
        // timers, an unarmed one counting as the end of time.
        #[inline(always)]
        fn at(t: Option<Nanos>) -> u64 {
            t.map_or(u64::MAX, |n| n.0)
        }
        let m = at(self.rto_at)
            .min(at(self.delack_at))
            .min(at(self.persist_at))
            .min(at(self.keepalive_at))
            .min(at(self.timewait_at))
            .min(at(self.reo_at))
            .min(at(self.tlp_at));
        (m != u64::MAX).then_some(Nanos(m))
    }

    /// Runs every timer that expired by `now` (calling it early or twice is harmless).
    pub fn on_timeout(&mut self, now: Nanos) {
        if self.timewait_at.is_some_and(|t| t <= now) {
            self.timewait_at = None;
            self.enter_closed(None);
            return;
        }
        // The probe timeout is never later than the RTO it stands in front of (RFC 8985 §7.2).
        if let Some(t) = self.tlp_at {
            if t <= now && self.rto_at.is_none_or(|r| t <= r) {
                self.tlp_at = None;
                self.on_tlp_timer(now);
            }
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.rto_at = None;
            self.on_rto(now);
            if self.state == State::Closed {
                return;
            }
        }
        if self.reo_at.is_some_and(|t| t <= now) {
            self.reo_at = None;
            if self.rack_on() {
                self.rack_detect(now);
            }
        }
        if self.delack_at.is_some_and(|t| t <= now) {
            self.delack_at = None;
            if self.rcv_nxt != self.last_ack_sent || self.segs_unacked > 0 {
                self.ack_now = true;
            }
        }
        if self.persist_at.is_some_and(|t| t <= now) {
            self.persist_at = None;
            self.on_persist(now);
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.keepalive_at = None;
            self.on_keepalive(now);
        }
    }

    /// Retransmission timeout (RFC 6298 §5.4–5.7, RFC 5681 §3.1): back off, collapse the
    /// window, resend from `SND.UNA`; abort after the configured number of retries (seed:
    /// `TcpMaxConnectRetransmissions` for SYNs, `TcpMaxDataRetransmissions` for data).
    fn on_rto(&mut self, now: Nanos) {
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        if !handshake && self.snd_nxt == self.snd_una {
            return;
        }
        let max = if handshake {
            self.cfg.syn_retries
        } else {
            self.cfg.data_retries
        };
        // A peer that closed its window but keeps answering is not dead: the retransmissions
        // act as window probes and are not counted (Linux does the same, bounded by the
        // maximum RTO since the last answer).
        let zero_window_alive =
            !handshake && self.snd_wnd == 0 && now.saturating_sub(self.last_rx) < self.cfg.max_rto;
        if self.retries >= max && !zero_window_alive {
            tracing::debug!(
                port = self.local_port,
                retries = self.retries,
                "tcp: timed out"
            );
            let err = self.soft_error.unwrap_or(ConnError::TimedOut);
            self.enter_closed(Some(err));
            return;
        }
        self.retries = (self.retries + 1).min(max);
        self.counters.timeouts += 1;
        self.rtt_probe = None;
        self.rtt_ts_floor = Some(self.ts_now(now));
        if handshake {
            self.syn_pending = true;
        } else {
            let flight = dist(self.snd_nxt, self.snd_una);
            let mss = self.seg_size();
            if self.retries == 1 {
                // RFC 5681 §3.1: ssthresh is not lowered again for repeated timeouts of
                // the same data.
                self.undo_begin(true);
                self.cc.on_rto(now, flight, mss);
            }
            self.tlp_cancel();
            self.reo_at = None;
            if self.rack_on() {
                // RFC 8985 §6.3: the first segment and everything sent a round trip ago.
                let reo = self.rack.reo_wnd(true, true, self.rtt.srtt());
                self.rack.mark_on_rto(&mut self.log, self.snd_una, now, reo);
            }
            self.in_recovery = false;
            self.rec_cwnd = None;
            self.rto_recovery = true;
            self.recovery_point = self.snd_nxt;
            self.forced_lost = self.snd_nxt;
            self.high_rxt = self.snd_una;
            self.dupacks = 0;
            self.rexmit_now = true;
            if self.retries == self.cfg.data_retries.div_ceil(2) {
                self.events |= Events::ROUTE_SUSPECT;
            }
            // Seed (EnablePMTUBHDetect): after two timeouts of full-sized segments, assume a
            // router drops them silently and fall back to the 536-byte default MSS.
            if self.cfg.pmtu_blackhole_detection
                && self.retries == 2
                && self.snd_mss > DEFAULT_MSS
                && flight >= self.seg_size()
            {
                tracing::info!(
                    port = self.local_port,
                    "tcp: PMTU black hole suspected, MSS 536"
                );
                self.snd_mss = DEFAULT_MSS;
                self.counters.blackhole_fallbacks += 1;
            }
        }
        self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
    }

    /// Persist timer: probe a zero window (backing off like the RTO, never giving up while
    /// the peer answers, RFC 1122 §4.2.2.17, giving up after `data_retries` unanswered
    /// probes), or send the segment SWS avoidance held back.
    fn on_persist(&mut self, now: Nanos) {
        if !self.state.is_synchronized() || self.snd_nxt != self.snd_una {
            return;
        }
        if self.snd_wnd > 0 {
            self.force_send = true;
        } else {
            // Linux (tcp_probe_timer) likewise aborts after tcp_retries2 unanswered probes;
            // without this a closed connection behind a vanished zero-window peer would
            // probe for ever.
            if self.persist_unanswered >= self.cfg.data_retries {
                tracing::debug!(
                    port = self.local_port,
                    probes = self.persist_unanswered,
                    "tcp: zero-window probes unanswered, timed out"
                );
                let err = self.soft_error.unwrap_or(ConnError::TimedOut);
                self.enter_closed(Some(err));
                return;
            }
            self.persist_unanswered += 1;
            self.probe = Some(Probe::Window);
            self.persist_backoff = self.persist_backoff.saturating_add(1);
            self.persist_at = Some(now + self.rtt.backed_off(self.persist_backoff));
        }
    }

    /// Keep-alive timer (RFC 1122 §4.2.3.6; seed: `KeepAliveTime`, `KeepAliveInterval`).
    fn on_keepalive(&mut self, now: Nanos) {
        let Some(k) = self.keepalive else { return };
        if !matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        ) {
            return;
        }
        if self.snd_nxt != self.snd_una {
            // Data in flight: the retransmission timer watches the peer.
            self.keepalive_at = Some(now + k.time);
            return;
        }
        if self.ka_probes >= k.probes {
            self.enter_closed(Some(ConnError::TimedOut));
            return;
        }
        self.ka_probes += 1;
        self.probe = Some(Probe::KeepAlive);
        self.keepalive_at = Some(now + k.interval);
    }
}
