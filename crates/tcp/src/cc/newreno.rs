//! RFC 5681 congestion control (the window side of NewReno; the recovery side, RFC 6582, is
//! the connection's).

use burst_port::Nanos;

use super::{slow_start_increase, CongestionControl};

/// Reno window arithmetic: slow start, byte-counted congestion avoidance, halving on loss.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged since the window last grew in congestion avoidance (RFC 5681 §3.1's
    /// byte counting: one SMSS per window of ACKed data).
    acked_acc: usize,
}

impl NewReno {
    /// Starts with an initial window of `iw` bytes and an unbounded `ssthresh`.
    pub fn new(iw: usize) -> NewReno {
        NewReno {
            cwnd: iw,
            ssthresh: usize::MAX,
            acked_acc: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn on_ack(&mut self, _now: Nanos, acked: usize, mss: usize, _srtt: Option<Nanos>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(slow_start_increase(acked, mss));
            return;
        }
        self.acked_acc += acked;
        if self.acked_acc >= self.cwnd {
            self.acked_acc -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(mss);
        }
    }

    fn on_loss(&mut self, _now: Nanos, flight: usize, mss: usize) {
        // RFC 5681 eq. (4).
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = self.ssthresh;
        self.acked_acc = 0;
    }

    fn on_rto(&mut self, _now: Nanos, flight: usize, mss: usize) {
        self.ssthresh = (flight / 2).max(2 * mss);
        // The loss window: one segment.
        self.cwnd = mss;
        self.acked_acc = 0;
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance() {
        let mss = 1000;
        let mut r = NewReno::new(10 * mss);
        let now = Nanos::ZERO;
        // Ten ACKs of one segment each: +1 MSS each.
        for _ in 0..10 {
            r.on_ack(now, mss, mss, None);
        }
        assert_eq!(r.cwnd(), 20 * mss);
        r.on_loss(now, 20 * mss, mss);
        assert_eq!((r.cwnd(), r.ssthresh()), (10 * mss, 10 * mss));
        // One full window of ACKs grows it by one MSS.
        for _ in 0..9 {
            r.on_ack(now, mss, mss, None);
        }
        assert_eq!(r.cwnd(), 10 * mss);
        r.on_ack(now, mss, mss, None);
        assert_eq!(r.cwnd(), 11 * mss);
        r.on_rto(now, 11 * mss, mss);
        assert_eq!((r.cwnd(), r.ssthresh()), (mss, 5500));
    }
}
