//! CUBIC congestion control (RFC 9438).

use burst_port::Nanos;

use super::{slow_start_increase, CongestionControl};

/// RFC 9438 §4.6: multiplicative decrease factor.
const BETA: f64 = 0.7;
/// RFC 9438 §5: the cubic scaling constant C (segments / s³).
const C: f64 = 0.4;
/// RFC 9438 §4.3: the additive increase of the Reno-friendly estimate, 3(1−β)/(1+β).
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// RTT assumed before one is measured, for the `t + RTT` look-ahead.
const DEFAULT_RTT_SECS: f64 = 0.1;

/// CUBIC state; windows are tracked in bytes as floats so sub-segment growth accumulates.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: f64,
    ssthresh: usize,
    /// W_max in bytes: the window just before the last reduction.
    w_max: f64,
    /// K in seconds: when the cubic function reaches W_max again.
    k: f64,
    /// Start of the current congestion-avoidance epoch.
    epoch_start: Option<Nanos>,
    /// W_est in bytes: the Reno-friendly estimate.
    w_est: f64,
}

impl Cubic {
    /// Starts with an initial window of `iw` bytes.
    pub fn new(iw: usize) -> Cubic {
        Cubic {
            cwnd: iw as f64,
            ssthresh: usize::MAX,
            w_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: iw as f64,
        }
    }

    /// W_cubic(t) in bytes (RFC 9438 eq. 1), for `t` seconds into the epoch.
    fn w_cubic(&self, t: f64, mss: f64) -> f64 {
        let d = t - self.k;
        self.w_max + C * d * d * d * mss
    }

    /// The reduction shared by loss and timeout (RFC 9438 §4.6–4.7).
    fn reduce(&mut self, mss: usize) {
        let cwnd = self.cwnd;
        // Fast convergence (§4.7): release bandwidth when the window shrank since last time.
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.ssthresh = ((cwnd * BETA) as usize).max(2 * mss);
        self.epoch_start = None;
    }
}

impl CongestionControl for Cubic {
    fn on_ack(&mut self, now: Nanos, acked: usize, mss: usize, srtt: Option<Nanos>) {
        let mssf = mss.max(1) as f64;
        if (self.cwnd as usize) < self.ssthresh {
            self.cwnd += slow_start_increase(acked, mss) as f64;
            return;
        }
        let epoch = match self.epoch_start {
            Some(e) => e,
            None => {
                // A new epoch (§4.2): K from how far below W_max the window starts.
                self.epoch_start = Some(now);
                if self.cwnd < self.w_max {
                    self.k = ((self.w_max - self.cwnd) / mssf / C).cbrt();
                } else {
                    self.k = 0.0;
                    self.w_max = self.cwnd;
                }
                self.w_est = self.cwnd;
                now
            }
        };
        let t = now.saturating_sub(epoch).0 as f64 / 1e9;
        let rtt = srtt.map_or(DEFAULT_RTT_SECS, |r| r.0 as f64 / 1e9);
        // Reno-friendly estimate (§4.3), grown per acknowledged segment.
        self.w_est += ALPHA * (acked as f64 / self.cwnd) * mssf;
        let cubic_now = self.w_cubic(t, mssf);
        if cubic_now < self.w_est {
            self.cwnd = self.w_est;
            return;
        }
        // Concave / convex regions (§4.4–4.5): move towards W_cubic(t + RTT), at most 1.5×.
        let target = self
            .w_cubic(t + rtt, mssf)
            .clamp(self.cwnd, 1.5 * self.cwnd);
        self.cwnd += (target - self.cwnd) / self.cwnd * acked as f64;
    }

    fn on_loss(&mut self, _now: Nanos, _flight: usize, mss: usize) {
        self.reduce(mss);
        self.cwnd = self.ssthresh as f64;
    }

    fn on_rto(&mut self, _now: Nanos, _flight: usize, mss: usize) {
        self.reduce(mss);
        self.cwnd = mss as f64;
    }

    fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_by_beta_and_regrows_to_w_max_at_k() {
        let mss = 1000;
        let mut c = Cubic::new(100 * mss);
        let t0 = Nanos::from_secs(1);
        c.on_loss(t0, 100 * mss, mss);
        assert_eq!((c.cwnd(), c.ssthresh()), (70_000, 70_000));
        // K = cbrt(30 / 0.4) ≈ 4.217 s. Feed an ACK of a full window every 100 ms.
        let mut now = t0;
        c.on_ack(now, mss, mss, Some(Nanos::from_millis(100)));
        assert!((c.k - 4.217).abs() < 0.01, "{}", c.k);
        let mut at = [0usize; 61];
        for slot in at.iter_mut().skip(1) {
            now += Nanos::from_millis(100);
            c.on_ack(now, c.cwnd(), mss, Some(Nanos::from_millis(100)));
            *slot = c.cwnd();
        }
        // With a full window ACKed per RTT the window tracks W_cubic(t + RTT):
        // at t = 2 s: 100 − 0.4·(4.217 − 2.1)³ ≈ 96.2 segments; at t = K: ≈ W_max.
        assert!((95_500..=97_000).contains(&at[20]), "{}", at[20]);
        assert!((99_900..=100_200).contains(&at[42]), "{}", at[42]);
        // Afterwards it probes beyond W_max (convex region).
        assert!(c.cwnd() > 100 * mss);
        // A loss above the old W_max sets W_max to the window; a second one below it triggers
        // fast convergence.
        let w = c.cwnd() as f64;
        c.on_loss(now, c.cwnd(), mss);
        assert!((c.w_max - w).abs() < 1.0);
        c.on_rto(now, c.cwnd(), mss);
        assert_eq!(c.cwnd(), mss);
        assert!(c.w_max < w);
    }
}
