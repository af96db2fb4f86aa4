//! Dead gateway detection, the seeds' triggered reselection (RFC 816 with Windows'
//! modifications): the per-stack bookkeeping that connections feed.
//!
//! Every destination reached through the default route has a route cache entry (RCE) naming
//! the gateway it uses. When a connection to a destination has retransmitted
//! `TcpMaxDataRetransmissions / 2` times ([`crate::Events::ROUTE_SUSPECT`]), that destination
//! moves to the next gateway of the list. Once more than 25 % of the RCEs have moved to the
//! same next gateway, it becomes the default for everyone. At the end of the list the search
//! wraps to the beginning.
//!
//! The table is sized at construction (`hashbrown`, pre-allocated) and never grows: when it is
//! full, new destinations simply follow the default gateway without an entry.

use core::net::Ipv4Addr;

use burst_port::map::HashMap;

/// What [`DeadGatewayDetector::on_route_suspect`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayChange {
    /// Nothing: a single gateway, or the destination is unknown.
    None,
    /// This destination now uses another gateway.
    Destination(Ipv4Addr),
    /// Enough destinations moved: this is now the default gateway of the host.
    Default(Ipv4Addr),
}

/// Gateway choice for destinations behind the default route.
#[derive(Debug, Clone)]
pub struct DeadGatewayDetector {
    gateways: Vec<Ipv4Addr>,
    /// Index of the current default gateway.
    current: usize,
    /// Destination → index of the gateway its RCE uses.
    rces: HashMap<Ipv4Addr, usize>,
    capacity: usize,
}

impl DeadGatewayDetector {
    /// A detector over `gateways` in preference order, tracking at most `capacity`
    /// destinations.
    pub fn new(gateways: &[Ipv4Addr], capacity: usize) -> DeadGatewayDetector {
        DeadGatewayDetector {
            gateways: gateways.to_vec(),
            current: 0,
            rces: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            capacity,
        }
    }

    /// The gateways, in preference order.
    pub fn gateways(&self) -> &[Ipv4Addr] {
        &self.gateways
    }

    /// The host's current default gateway.
    pub fn default_gateway(&self) -> Option<Ipv4Addr> {
        self.gateways.get(self.current).copied()
    }

    /// The gateway to use for `dst`, creating its RCE on first use (if there is room).
    pub fn gateway_for(&mut self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.gateways.is_empty() {
            return None;
        }
        let idx = match self.rces.get(&dst) {
            Some(&i) => i,
            None => {
                if self.rces.len() < self.capacity {
                    self.rces.insert(dst, self.current);
                }
                self.current
            }
        };
        self.gateways.get(idx).copied()
    }

    /// A connection to `dst` reported [`crate::Events::ROUTE_SUSPECT`]: move its RCE to the
    /// next gateway and switch the default if more than a quarter of the RCEs did.
    pub fn on_route_suspect(&mut self, dst: Ipv4Addr) -> GatewayChange {
        let n = self.gateways.len();
        if n < 2 {
            return GatewayChange::None;
        }
        let Some(idx) = self.rces.get_mut(&dst) else {
            return GatewayChange::None;
        };
        let next = (*idx + 1) % n;
        *idx = next;
        if next == self.current {
            // Wrapped back to the default: nothing to decide.
            return GatewayChange::Destination(self.gateways[next]);
        }
        // A rare event (a connection in trouble), so a scan of the table is fine.
        let moved = self.rces.values().filter(|&&i| i == next).count();
        // Seed: "When 25 percent of the TCP connections have moved ..." (3 of 11 switch).
        if moved * 4 > self.rces.len() {
            self.current = next;
            tracing::warn!(gateway = %self.gateways[next], "tcp: dead gateway detection switched the default gateway");
            // Every destination follows the new default from now on.
            for i in self.rces.values_mut() {
                *i = next;
            }
            return GatewayChange::Default(self.gateways[next]);
        }
        GatewayChange::Destination(self.gateways[next])
    }

    /// Drops the RCE of `dst` (its route changed, or it aged out).
    pub fn forget(&mut self, dst: Ipv4Addr) {
        self.rces.remove(&dst);
    }

    /// Destinations tracked.
    pub fn len(&self) -> usize {
        self.rces.len()
    }

    /// Whether no destination is tracked.
    pub fn is_empty(&self) -> bool {
        self.rces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_eleven_destinations_switch_after_the_third() {
        let g1 = Ipv4Addr::new(198, 18, 0, 1);
        let g2 = Ipv4Addr::new(198, 18, 0, 2);
        let mut d = DeadGatewayDetector::new(&[g1, g2], 64);
        let dst = |k: u8| Ipv4Addr::new(198, 19, 0, k);
        for k in 0..11 {
            assert_eq!(d.gateway_for(dst(k)), Some(g1));
        }
        assert_eq!(d.on_route_suspect(dst(0)), GatewayChange::Destination(g2));
        assert_eq!(d.gateway_for(dst(0)), Some(g2));
        assert_eq!(d.gateway_for(dst(5)), Some(g1));
        assert_eq!(d.on_route_suspect(dst(1)), GatewayChange::Destination(g2));
        // Three of eleven is over 25 %: the host's default moves.
        assert_eq!(d.on_route_suspect(dst(2)), GatewayChange::Default(g2));
        assert_eq!(d.default_gateway(), Some(g2));
        assert_eq!(d.gateway_for(dst(9)), Some(g2));
        assert_eq!(d.gateway_for(dst(200)), Some(g2));
        // The end of the list wraps to the beginning.
        assert_eq!(d.on_route_suspect(dst(9)), GatewayChange::Destination(g1));
        d.forget(dst(9));
        assert_eq!(d.len(), 11);
        assert_eq!(d.on_route_suspect(dst(9)), GatewayChange::None);
    }

    #[test]
    fn one_gateway_or_a_full_table_changes_nothing() {
        let g = Ipv4Addr::new(198, 18, 0, 1);
        let mut d = DeadGatewayDetector::new(&[g], 1);
        assert_eq!(d.gateway_for(Ipv4Addr::new(198, 19, 0, 1)), Some(g));
        assert_eq!(d.gateway_for(Ipv4Addr::new(198, 19, 0, 2)), Some(g));
        assert_eq!(d.len(), 1);
        assert_eq!(
            d.on_route_suspect(Ipv4Addr::new(198, 19, 0, 1)),
            GatewayChange::None
        );
        assert!(DeadGatewayDetector::new(&[], 4)
            .gateway_for(Ipv4Addr::new(198, 19, 0, 1))
            .is_none());
    }
}
