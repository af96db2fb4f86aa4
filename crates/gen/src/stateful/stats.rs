//! What a stateful client or server measured on one core: counters and HDR histograms, merged
//! exactly across cores (counters add, histograms add bucket by bucket), with the stateless
//! generator's histogram bounds ([`crate::engine::new_histogram`]: 1 ns to 100 s, 3 digits).

use hdrhistogram::Histogram;

use crate::engine::{new_histogram, LATENCY_MAX_NS};

/// Why a client connection or request failed; each has its own counter in [`Failures`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The server answered our SYN with a reset (nobody listening).
    Refused,
    /// The server reset an established connection.
    Reset,
    /// No answer within the client's `timeout` (handshake or response), or TCP gave up
    /// retransmitting.
    Timeout,
    /// The response broke HTTP/1.1 (or the program got more bytes than it expected).
    BadResponse,
    /// The server closed before the response was complete.
    ClosedEarly,
    /// No free source port (every tuple of the core's slice in use or in TIME-WAIT), or the
    /// core's connection table was full.
    OutOfPorts,
    /// ICMP said the server is unreachable.
    Unreachable,
}

impl Failure {
    /// Every reason, in report order.
    pub const ALL: [Failure; 7] = [
        Failure::Refused,
        Failure::Reset,
        Failure::Timeout,
        Failure::BadResponse,
        Failure::ClosedEarly,
        Failure::OutOfPorts,
        Failure::Unreachable,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Reset => "reset",
            Failure::Timeout => "timeout",
            Failure::BadResponse => "bad_response",
            Failure::ClosedEarly => "closed_early",
            Failure::OutOfPorts => "out_of_ports",
            Failure::Unreachable => "unreachable",
        }
    }
}

/// Failures by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// [`Failure::Refused`].
    pub refused: u64,
    /// [`Failure::Reset`].
    pub reset: u64,
    /// [`Failure::Timeout`].
    pub timeout: u64,
    /// [`Failure::BadResponse`].
    pub bad_response: u64,
    /// [`Failure::ClosedEarly`].
    pub closed_early: u64,
    /// [`Failure::OutOfPorts`].
    pub out_of_ports: u64,
    /// [`Failure::Unreachable`].
    pub unreachable: u64,
}

impl Failures {
    /// The counter of `f`.
    pub fn get(&self, f: Failure) -> u64 {
        match f {
            Failure::Refused => self.refused,
            Failure::Reset => self.reset,
            Failure::Timeout => self.timeout,
            Failure::BadResponse => self.bad_response,
            Failure::ClosedEarly => self.closed_early,
            Failure::OutOfPorts => self.out_of_ports,
            Failure::Unreachable => self.unreachable,
        }
    }

    fn slot(&mut self, f: Failure) -> &mut u64 {
        match f {
            Failure::Refused => &mut self.refused,
            Failure::Reset => &mut self.reset,
            Failure::Timeout => &mut self.timeout,
            Failure::BadResponse => &mut self.bad_response,
            Failure::ClosedEarly => &mut self.closed_early,
            Failure::OutOfPorts => &mut self.out_of_ports,
            Failure::Unreachable => &mut self.unreachable,
        }
    }

    /// Counts one failure.
    pub fn count(&mut self, f: Failure) {
        *self.slot(f) += 1;
    }

    /// Every failure.
    pub fn total(&self) -> u64 {
        Failure::ALL.iter().map(|&f| self.get(f)).sum()
    }

    fn add(&mut self, o: &Failures) {
        for f in Failure::ALL {
            *self.slot(f) += o.get(f);
        }
    }
}

/// One core's client figures.
#[derive(Debug, Clone)]
pub struct ClientStats {
    /// Connection starts the open-loop schedule had (intended, whether or not they happened).
    pub intended: u64,
    /// `connect` calls that produced a SYN.
    pub connects: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Requests (HTTP requests or program rounds) started.
    pub requests: u64,
    /// Responses complete (any status).
    pub responses: u64,
    /// Complete responses with a status outside 200..=399.
    pub non_2xx: u64,
    /// Body bytes that differed from the generated pattern (with `check_body`).
    pub body_mismatches: u64,
    /// Bytes queued for sending (requests, program bytes).
    pub tx_bytes: u64,
    /// Bytes received (heads and bodies).
    pub rx_bytes: u64,
    /// Body bytes received (program: every byte).
    pub body_bytes: u64,
    /// Connections the client finished (closed or failed).
    pub closed: u64,
    /// Most connections open at once.
    pub peak_open: u64,
    /// Failures by reason.
    pub failures: Failures,
    /// SYN sent to handshake complete, ns.
    pub connect_ns: Histogram<u64>,
    /// Request queued to first response byte, ns.
    pub ttfb_ns: Histogram<u64>,
    /// Request queued to last response byte, ns.
    pub request_ns: Histogram<u64>,
    /// Intended start to last response byte, ns: the coordinated-omission-corrected latency.
    /// For the first request of an open-loop connection the intended start is its slot in the
    /// schedule (so connect time and any lateness of the client count); otherwise it is when
    /// the request was queued.
    pub corrected_ns: Histogram<u64>,
}

impl Default for ClientStats {
    fn default() -> Self {
        ClientStats {
            intended: 0,
            connects: 0,
            established: 0,
            requests: 0,
            responses: 0,
            non_2xx: 0,
            body_mismatches: 0,
            tx_bytes: 0,
            rx_bytes: 0,
            body_bytes: 0,
            closed: 0,
            peak_open: 0,
            failures: Failures::default(),
            connect_ns: new_histogram(),
            ttfb_ns: new_histogram(),
            request_ns: new_histogram(),
            corrected_ns: new_histogram(),
        }
    }
}

/// Records `ns` (at least 1, at most the histogram's top) in `h`.
#[inline]
pub fn record(h: &mut Histogram<u64>, ns: u64) {
    // Saturating keeps a value above the top from being lost.
    let _ = h.record(ns.clamp(1, LATENCY_MAX_NS));
}

impl ClientStats {
    /// Adds another core's figures (peak: the sum, as the cores' peaks may coincide).
    pub fn merge(&mut self, o: &ClientStats) {
        self.intended += o.intended;
        self.connects += o.connects;
        self.established += o.established;
        self.requests += o.requests;
        self.responses += o.responses;
        self.non_2xx += o.non_2xx;
        self.body_mismatches += o.body_mismatches;
        self.tx_bytes += o.tx_bytes;
        self.rx_bytes += o.rx_bytes;
        self.body_bytes += o.body_bytes;
        self.closed += o.closed;
        self.peak_open += o.peak_open;
        self.failures.add(&o.failures);
        for (a, b) in [
            (&mut self.connect_ns, &o.connect_ns),
            (&mut self.ttfb_ns, &o.ttfb_ns),
            (&mut self.request_ns, &o.request_ns),
            (&mut self.corrected_ns, &o.corrected_ns),
        ] {
            // Same bounds on every core: adding cannot fail.
            let _ = a.add(b);
        }
    }
}

/// One core's server figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections finished.
    pub closed: u64,
    /// Requests (or program rounds) answered.
    pub requests: u64,
    /// Malformed requests (answered with 400 and a close).
    pub bad_requests: u64,
    /// Accepted connections reset because no connection state was free.
    pub no_slot: u64,
    /// Connections reset or timed out by the peer or TCP.
    pub errors: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes queued for sending.
    pub tx_bytes: u64,
}

impl ServerStats {
    /// Adds another core's figures.
    pub fn merge(&mut self, o: &ServerStats) {
        self.accepted += o.accepted;
        self.closed += o.closed;
        self.requests += o.requests;
        self.bad_requests += o.bad_requests;
        self.no_slot += o.no_slot;
        self.errors += o.errors;
        self.rx_bytes += o.rx_bytes;
        self.tx_bytes += o.tx_bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_exact() {
        let mut a = ClientStats::default();
        let mut b = ClientStats::default();
        for v in 1..=1000u64 {
            record(&mut a.request_ns, v * 1000);
            record(&mut b.request_ns, v * 7000);
        }
        a.failures.count(Failure::Reset);
        b.failures.count(Failure::Reset);
        b.failures.count(Failure::OutOfPorts);
        let mut all = new_histogram();
        all.add(&a.request_ns).unwrap();
        all.add(&b.request_ns).unwrap();
        a.merge(&b);
        assert_eq!(a.request_ns, all);
        assert_eq!(a.request_ns.len(), 2000);
        assert_eq!(a.failures.reset, 2);
        assert_eq!(a.failures.total(), 3);
    }
}
