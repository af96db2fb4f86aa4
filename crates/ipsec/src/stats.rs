//! Drop reasons and counters of the ESP and AH engines: every early return of the packet path
//! names a [`DropReason`], and each reason has its own counter in [`EspStats`]. AH SAs count in
//! the same counters (`esp.in_replay`, `esp.in_icv`, ...: the SA's protocol tells them apart),
//! and `ah.source_route` is AH's own.

/// Why the ESP engine refused a packet; each reason has a counter in [`EspStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Inbound: not a whole IPv4 datagram carrying ESP (the caller's demultiplexing is wrong).
    Malformed,
    /// Inbound: shorter than the ESP header, IV, ICV and the two trailer bytes (RFC 4303 §2).
    TooShort,
    /// Inbound: the ciphertext is not a whole number of cipher blocks (RFC 4303 §2.4).
    BadLength,
    /// Inbound: no SA for the SPI (RFC 4303 §3.4.2: discard, auditable event).
    UnknownSpi,
    /// Inbound: a duplicate, or left of the anti-replay window (RFC 4303 §3.4.3).
    Replay,
    /// Inbound: the integrity check value does not verify (RFC 4303 §3.4.4).
    Icv,
    /// Inbound: the pad length overruns the payload, or the padding is not 1, 2, 3, ...
    /// (RFC 4303 §2.4: the receiver SHOULD inspect the padding).
    BadPadding,
    /// Inbound: a next header the SA's mode cannot carry (tunnel mode: anything but IPv4).
    BadNextHeader,
    /// Inbound: a traffic-flow-confidentiality dummy packet, next header 59 (RFC 4303 §2.6:
    /// discarded silently; counted, but not an error).
    Dummy,
    /// Inbound, tunnel mode: the decrypted inner datagram is not a valid IPv4 datagram.
    BadInner,
    /// Outbound: the packet is not a valid IPv4 datagram.
    BadPlain,
    /// Outbound: a fragment in transport mode (RFC 4303 §3.3.4: transport mode protects whole
    /// datagrams; reassemble first).
    Fragment,
    /// Outbound: not enough headroom or tailroom in the buffer for ESP's overhead.
    NoRoom,
    /// Outbound: the protected datagram would exceed 65535 bytes.
    TooBig,
    /// Outbound: the sequence number would cycle (RFC 4303 §3.3.3: a new SA is needed).
    SeqExhausted,
    /// AH: the IP header has a loose or strict source-route option, whose final destination
    /// the ICV would have to predict (RFC 4302 Appendix A.1); refused, not handled.
    AhSourceRoute,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 16] = [
        DropReason::Malformed,
        DropReason::TooShort,
        DropReason::BadLength,
        DropReason::UnknownSpi,
        DropReason::Replay,
        DropReason::Icv,
        DropReason::BadPadding,
        DropReason::BadNextHeader,
        DropReason::Dummy,
        DropReason::BadInner,
        DropReason::BadPlain,
        DropReason::Fragment,
        DropReason::NoRoom,
        DropReason::TooBig,
        DropReason::SeqExhausted,
        DropReason::AhSourceRoute,
    ];

    /// The counter's name, as `burst ctl` and the metrics would show it.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "esp.in_malformed",
            DropReason::TooShort => "esp.in_too_short",
            DropReason::BadLength => "esp.in_bad_length",
            DropReason::UnknownSpi => "esp.in_unknown_spi",
            DropReason::Replay => "esp.in_replay",
            DropReason::Icv => "esp.in_icv",
            DropReason::BadPadding => "esp.in_bad_padding",
            DropReason::BadNextHeader => "esp.in_bad_next_header",
            DropReason::Dummy => "esp.in_dummy",
            DropReason::BadInner => "esp.in_bad_inner",
            DropReason::BadPlain => "esp.out_bad_plain",
            DropReason::Fragment => "esp.out_fragment",
            DropReason::NoRoom => "esp.out_no_room",
            DropReason::TooBig => "esp.out_too_big",
            DropReason::SeqExhausted => "esp.out_seq_exhausted",
            DropReason::AhSourceRoute => "ah.source_route",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Packet, byte and drop counters of one SA (or of the SAD, for drops before an SA is known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EspStats {
    /// Inbound packets decrypted and delivered.
    pub in_packets: u64,
    /// Bytes of those packets after decapsulation.
    pub in_bytes: u64,
    /// Outbound packets encrypted.
    pub out_packets: u64,
    /// Bytes of those packets before encapsulation.
    pub out_bytes: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl EspStats {
    /// Counts one packet dropped for `reason`.
    #[inline]
    pub fn count(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    /// Packets dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Packets dropped for any reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Adds another set of counters to these (per-core totals).
    pub fn merge(&mut self, other: &EspStats) {
        self.in_packets += other.in_packets;
        self.in_bytes += other.in_bytes;
        self.out_packets += other.out_packets;
        self.out_bytes += other.out_bytes;
        for (a, b) in self.drops.iter_mut().zip(other.drops.iter()) {
            *a += b;
        }
    }

    /// `(name, value)` for every drop counter, in [`DropReason::ALL`] order.
    pub fn drop_counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (r.name(), self.drops(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter_and_name() {
        let mut s = EspStats::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            for _ in 0..=i {
                s.count(*r);
            }
        }
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(s.drops(*r), i as u64 + 1, "{}", r.name());
        }
        let names: std::collections::HashSet<_> = s.drop_counters().map(|(n, _)| n).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
        let mut t = EspStats::default();
        t.merge(&s);
        t.merge(&s);
        assert_eq!(t.total_drops(), 2 * s.total_drops());
    }
}
