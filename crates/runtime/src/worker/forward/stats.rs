//! The transit path's counters.

/// Per-worker forwarding counters (`stats`, section `fwd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForwardStats {
    /// Datagrams forwarded (fragments of one datagram count once).
    pub forwarded: u64,
    /// Of those, taken by the fast path.
    pub fast_path: u64,
    /// Datagrams fragmented for a smaller egress MTU.
    pub fragmented: u64,
    /// Dropped: TTL expired (time exceeded sent when allowed).
    pub drop_ttl_expired: u64,
    /// Dropped: no route (network unreachable sent when allowed).
    pub drop_no_route: u64,
    /// Dropped: larger than the egress MTU with DF set (fragmentation needed sent).
    pub drop_frag_needed: u64,
    /// Dropped: fragmentation failed (no buffer or malformed).
    pub drop_frag_failed: u64,
    /// Dropped: link-local source or destination (RFC 3927 §7).
    pub drop_link_local: u64,
    /// Dropped: martian destination (0/8, 127/8, 240/4).
    pub drop_martian_dst: u64,
    /// Dropped: unicast IP in a link-layer broadcast or multicast frame (RFC 1812 §5.3.4).
    pub drop_l2_not_unicast: u64,
    /// Dropped by an inbound filter rule.
    pub drop_filter_in: u64,
    /// Dropped by an outbound filter rule.
    pub drop_filter_out: u64,
    /// Dropped: the next hop did not answer ARP (host unreachable sent when allowed).
    pub drop_unresolved: u64,
    /// Redirects sent to hosts on the arrival link.
    pub redirects_sent: u64,
}

impl ForwardStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 14] {
        [
            ("forwarded", self.forwarded),
            ("fast_path", self.fast_path),
            ("fragmented", self.fragmented),
            ("drop_ttl_expired", self.drop_ttl_expired),
            ("drop_no_route", self.drop_no_route),
            ("drop_frag_needed", self.drop_frag_needed),
            ("drop_frag_failed", self.drop_frag_failed),
            ("drop_link_local", self.drop_link_local),
            ("drop_martian_dst", self.drop_martian_dst),
            ("drop_l2_not_unicast", self.drop_l2_not_unicast),
            ("drop_filter_in", self.drop_filter_in),
            ("drop_filter_out", self.drop_filter_out),
            ("drop_unresolved", self.drop_unresolved),
            ("redirects_sent", self.redirects_sent),
        ]
    }
}
