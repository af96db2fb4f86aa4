//! ICMP errors for a connection (RFC 5927, RFC 1191, RFC 1122 §4.2.3.9).

use super::*;

impl Connection {
    /// Whether `seq` (quoted by an ICMP error) is something we have in flight (RFC 5927 §4.1:
    /// otherwise the error is likely forged or stale).
    fn quoted_in_flight(&self, seq: SeqNumber) -> bool {
        self.snd_una <= seq && seq < self.snd_nxt
    }

    /// ICMP fragmentation-needed with next-hop `mtu` for a segment starting at `quoted_seq`:
    /// lowers the MSS and resends what is in flight at the new size (without a congestion
    /// response: nothing was congested). Returns whether the MSS changed.
    pub fn on_frag_needed(&mut self, _now: Nanos, mtu: u16, quoted_seq: SeqNumber) -> bool {
        if !self.quoted_in_flight(quoted_seq) || !self.cfg.pmtu_discovery {
            self.counters.icmp_ignored += 1;
            return false;
        }
        let mtu = mtu.max(MIN_MTU);
        let mss = mtu - 40;
        if mss >= self.snd_mss {
            return false;
        }
        tracing::debug!(
            port = self.local_port,
            old = self.snd_mss,
            new = mss,
            "tcp: path MTU reduced"
        );
        self.mtu = mtu;
        self.snd_mss = mss;
        self.counters.pmtu_reductions += 1;
        if self.state.is_synchronized() && self.snd_nxt > self.snd_una {
            // Everything in flight was too big: resend it all (Linux tcp_simple_retransmit).
            self.rto_recovery = true;
            self.recovery_point = self.snd_nxt;
            self.forced_lost = self.snd_nxt;
            self.high_rxt = self.snd_una;
            self.rtt_probe = None;
            if self.rack_on() {
                self.log.mark_lost_where(|_| true);
            }
            self.tlp_cancel();
        }
        true
    }

    /// Another ICMP destination-unreachable for a segment starting at `quoted_seq`. Errors are
    /// soft (RFC 5461): remembered and reported if the connection later times out. A hard
    /// error in SYN-SENT aborts once the SYN has been retried at least once, so a single stray
    /// or forged ICMP cannot kill a fresh connect.
    pub fn on_icmp_error(&mut self, _now: Nanos, err: IcmpError, quoted_seq: SeqNumber) {
        if !self.quoted_in_flight(quoted_seq) {
            self.counters.icmp_ignored += 1;
            return;
        }
        self.soft_error = Some(ConnError::Unreachable);
        if self.state == State::SynSent && err.is_hard() && self.retries >= 1 {
            self.enter_closed(Some(ConnError::Unreachable));
        }
    }
}
