//! Congestion control: the [`CongestionControl`] trait the connection drives, and the two
//! algorithms behind the [`Congestion`] enum (static dispatch, no allocation).
//!
//! The connection owns loss detection and recovery (RFC 6675 / RFC 6582); an algorithm only
//! answers "how big may the window be": it hears about new acknowledgments outside recovery,
//! about a loss that starts fast recovery, and about retransmission timeouts. Windows are in
//! bytes.

mod cubic;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

use burst_port::Nanos;

use crate::config::CongestionAlgorithm;

/// What a congestion control algorithm implements.
pub trait CongestionControl {
    /// `acked` bytes were newly acknowledged outside fast recovery (slow start or congestion
    /// avoidance); `srtt` is the smoothed RTT when one was measured.
    fn on_ack(&mut self, now: Nanos, acked: usize, mss: usize, srtt: Option<Nanos>);
    /// A loss was detected by duplicate ACKs or SACK and fast recovery begins with `flight`
    /// bytes outstanding: reduce `ssthresh` and the window.
    fn on_loss(&mut self, now: Nanos, flight: usize, mss: usize);
    /// The retransmission timer expired with `flight` bytes outstanding.
    fn on_rto(&mut self, now: Nanos, flight: usize, mss: usize);
    /// The congestion window in bytes.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold in bytes (`usize::MAX` until the first loss).
    fn ssthresh(&self) -> usize;
}

/// The configured algorithm, dispatched by `match`.
#[derive(Debug, Clone)]
pub enum Congestion {
    /// RFC 5681 / RFC 6582.
    NewReno(NewReno),
    /// RFC 9438.
    Cubic(Cubic),
}

impl Congestion {
    /// The algorithm `alg` with an initial window of `iw` bytes.
    pub fn new(alg: CongestionAlgorithm, iw: usize) -> Congestion {
        match alg {
            CongestionAlgorithm::NewReno => Congestion::NewReno(NewReno::new(iw)),
            CongestionAlgorithm::Cubic => Congestion::Cubic(Cubic::new(iw)),
        }
    }

    fn inner(&mut self) -> &mut dyn CongestionControl {
        match self {
            Congestion::NewReno(c) => c,
            Congestion::Cubic(c) => c,
        }
    }

    fn inner_ref(&self) -> &dyn CongestionControl {
        match self {
            Congestion::NewReno(c) => c,
            Congestion::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Congestion {
    fn on_ack(&mut self, now: Nanos, acked: usize, mss: usize, srtt: Option<Nanos>) {
        self.inner().on_ack(now, acked, mss, srtt)
    }
    fn on_loss(&mut self, now: Nanos, flight: usize, mss: usize) {
        self.inner().on_loss(now, flight, mss)
    }
    fn on_rto(&mut self, now: Nanos, flight: usize, mss: usize) {
        self.inner().on_rto(now, flight, mss)
    }
    fn cwnd(&self) -> usize {
        self.inner_ref().cwnd()
    }
    fn ssthresh(&self) -> usize {
        self.inner_ref().ssthresh()
    }
}

/// Slow-start growth shared by both algorithms: RFC 3465 appropriate byte counting with
/// L = 2·SMSS (each ACK, which with delayed ACKs covers two segments, grows the window by up to
/// two segments).
pub(crate) fn slow_start_increase(acked: usize, mss: usize) -> usize {
    acked.min(2 * mss)
}

/// RFC 6928 initial window: min(iw·MSS, max(2·MSS, 14600)) for the standard 10 segments,
/// generalised to `segments`.
pub fn initial_window(segments: u32, mss: usize) -> usize {
    let segs = segments as usize;
    if segs <= 10 {
        (segs * mss).min((2 * mss).max(segs * 1460))
    } else {
        segs * mss
    }
}
