//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use burst_port::Nanos;

/// Clock granularity G of RFC 6298 §2: our timestamps tick in milliseconds.
const GRANULARITY: Nanos = Nanos::from_millis(1);

/// SRTT / RTTVAR / RTO state of one connection.
#[derive(Debug, Clone)]
pub(crate) struct RttEstimator {
    srtt: Option<Nanos>,
    rttvar: Nanos,
    rto: Nanos,
    min_rto: Nanos,
    max_rto: Nanos,
}

impl RttEstimator {
    pub(crate) fn new(initial_rto: Nanos, min_rto: Nanos, max_rto: Nanos) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Nanos::ZERO,
            rto: initial_rto,
            min_rto,
            max_rto,
        }
    }

    /// Feeds one measurement (RFC 6298 §2.2–2.3, α = 1/8, β = 1/4).
    pub(crate) fn sample(&mut self, r: Nanos) {
        let r = r.max(GRANULARITY);
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = Nanos(r.0 / 2);
            }
            Some(s) => {
                let delta = s.0.abs_diff(r.0);
                self.rttvar = Nanos((3 * self.rttvar.0 + delta) / 4);
                self.srtt = Some(Nanos((7 * s.0 + r.0) / 8));
            }
        }
        let s = self.srtt.unwrap_or(r);
        let rto = Nanos(s.0 + GRANULARITY.0.max(4 * self.rttvar.0));
        self.rto = rto.clamp(self.min_rto, self.max_rto);
    }

    /// The current RTO (not backed off).
    pub(crate) fn rto(&self) -> Nanos {
        self.rto
    }

    /// The RTO after `backoff` doublings, capped at the maximum (RFC 6298 §5.5).
    pub(crate) fn backed_off(&self, backoff: u32) -> Nanos {
        let shift = backoff.min(20);
        Nanos(self.rto.0.saturating_mul(1 << shift)).min(self.max_rto)
    }

    /// Smoothed RTT, once measured.
    pub(crate) fn srtt(&self) -> Option<Nanos> {
        self.srtt
    }

    /// RTT variation.
    pub(crate) fn rttvar(&self) -> Nanos {
        self.rttvar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6298_arithmetic() {
        let mut e = RttEstimator::new(
            Nanos::from_secs(3),
            Nanos::from_millis(200),
            Nanos::from_secs(60),
        );
        assert_eq!(e.rto(), Nanos::from_secs(3));
        e.sample(Nanos::from_millis(100));
        // SRTT 100, RTTVAR 50, RTO = 100 + 200.
        assert_eq!(e.rto(), Nanos::from_millis(300));
        e.sample(Nanos::from_millis(100));
        // RTTVAR = 3/4·50 = 37.5, RTO = 100 + 150.
        assert_eq!(e.srtt(), Some(Nanos::from_millis(100)));
        assert_eq!(e.rto(), Nanos::from_millis(250));
        assert_eq!(e.backed_off(3), Nanos::from_secs(2));
        assert_eq!(e.backed_off(30), Nanos::from_secs(60));
    }
}
