//! The stateful firewall's settings and counters (seed 000's Windows Firewall: "compares the
//! packet to its exceptions list ... If the IP packet does not match an exception, Ipnat.sys
//! silently discards the IP packet"; "checks whether the traffic is a specific type of ICMP
//! message that Windows Firewall is designed to block"; outgoing traffic adds "a dynamic entry
//! to the exceptions list so that the response traffic will be allowed").
//!
//! The dynamic exceptions are the conntrack sessions ([`crate::conntrack`]); the exceptions
//! list is a [`FilterTable`](crate::filter::FilterTable) of `permit` rules on each firewalled
//! port's inbound list (same syntax, same hit counters, published the same way).

/// Which ports the firewall guards and which ICMP types it blocks (`[firewall]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirewallConfig {
    /// Firewalled ports (bit = port id, below 64).
    pub ports: u64,
    /// Blocked ICMP types (bit = type), both ways through a firewalled port.
    pub block_icmp: [u64; 4],
}

impl FirewallConfig {
    /// Whether `port` is firewalled.
    #[inline]
    pub fn guards(&self, port: u16) -> bool {
        port < 64 && self.ports & (1 << port) != 0
    }

    /// Whether ICMP type `ty` is blocked.
    #[inline]
    pub fn blocks_icmp(&self, ty: u8) -> bool {
        self.block_icmp[usize::from(ty >> 6)] & (1 << (ty & 63)) != 0
    }

    /// Blocks ICMP type `ty`.
    pub fn block(&mut self, ty: u8) {
        self.block_icmp[usize::from(ty >> 6)] |= 1 << (ty & 63);
    }
}

/// Per-core firewall counters (`stats`, section `fw`), one per reason a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirewallStats {
    /// New inbound connections let in by an exception.
    pub accepted_exception: u64,
    /// Dropped: a new inbound connection (or query) no exception allows (default deny).
    pub drop_inbound: u64,
    /// Dropped: an ICMP type the firewall blocks.
    pub drop_icmp_type: u64,
    /// Dropped: an inbound ICMP error quoting no tracked flow.
    pub drop_icmp_error: u64,
    /// Dropped: an inbound ICMP reply or a later fragment with no tracked flow.
    pub drop_unsolicited: u64,
    /// Dropped: a TCP segment the connection's state does not allow.
    pub drop_invalid: u64,
    /// Dropped: conntrack was full (a new flow through a firewalled port).
    pub drop_table_full: u64,
}

impl FirewallStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("accepted_exception", self.accepted_exception),
            ("drop_inbound", self.drop_inbound),
            ("drop_icmp_type", self.drop_icmp_type),
            ("drop_icmp_error", self.drop_icmp_error),
            ("drop_unsolicited", self.drop_unsolicited),
            ("drop_invalid", self.drop_invalid),
            ("drop_table_full", self.drop_table_full),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_icmp_types() {
        let mut c = FirewallConfig {
            ports: 0b10,
            ..Default::default()
        };
        c.block(13);
        c.block(200);
        assert!(c.guards(1) && !c.guards(0) && !c.guards(70));
        assert!(c.blocks_icmp(13) && c.blocks_icmp(200) && !c.blocks_icmp(8));
    }
}
