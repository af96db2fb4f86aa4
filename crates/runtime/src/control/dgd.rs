//! Dead gateway detection (seed "Dead Gateway Detection", RFC 816): TCP's reports of connections
//! that are up or keep retransmitting move destinations, then the default route, to the next
//! default gateway. Kept apart because it is the one feature that rewrites routes by itself.

use std::net::Ipv4Addr;

use burst_port::Port;
use burst_stack::route::{Route, RouteKind};
use burst_wire::ipv4::Cidr;

use super::Control;

/// Destinations dead gateway detection tracks at most.
const DGD_DESTINATIONS: usize = 4096;

impl<P: Port> Control<P> {
    /// The detector over the default gateways, if `dst` is reached through one (rebuilt when
    /// the set of default gateways changes; the preference order is kept from when it was
    /// built, since the detector itself reorders the routes' metrics).
    fn dgd_for(&mut self, dst: Ipv4Addr) -> Option<&mut burst_tcp::DeadGatewayDetector> {
        let r = self.routes.route_for(dst)?;
        let via_default = r.prefix.prefix_len() == 0
            || (r.kind == RouteKind::DeadGateway && r.prefix.prefix_len() == 32);
        if !via_default {
            return None;
        }
        let mut gws: Vec<Ipv4Addr> = self
            .routes
            .defaults()
            .iter()
            .filter_map(|r| r.gateway)
            .collect();
        gws.dedup();
        let same = self.dgd.as_ref().is_some_and(|d| {
            let mut a = d.gateways().to_vec();
            let mut b = gws.clone();
            a.sort();
            b.sort();
            a == b
        });
        if !same {
            self.dgd = Some(burst_tcp::DeadGatewayDetector::new(&gws, DGD_DESTINATIONS));
        }
        self.dgd.as_mut()
    }

    /// A TCP connection to `dst` is up: track it if it goes through the default gateway.
    pub(super) fn dgd_use(&mut self, dst: Ipv4Addr) {
        if let Some(d) = self.dgd_for(dst) {
            let _ = d.gateway_for(dst);
        }
    }

    /// A TCP connection to `dst` keeps retransmitting: move the destination to the next default
    /// gateway, or the default itself once a quarter of the destinations moved (seed "Dead
    /// Gateway Detection", RFC 816).
    pub(super) fn dgd_suspect(&mut self, dst: Ipv4Addr) {
        let Some(d) = self.dgd_for(dst) else {
            return;
        };
        let _ = d.gateway_for(dst);
        let change = d.on_route_suspect(dst);
        let default_gw = d.default_gateway();
        match change {
            burst_tcp::GatewayChange::None => {}
            burst_tcp::GatewayChange::Destination(gw) => {
                let host = Cidr::new(dst, 32).expect("a /32 is valid");
                let _ = self.routes.delete(host, None);
                if Some(gw) != default_gw {
                    if let Some(port) = self.port_for(gw) {
                        let r = Route {
                            kind: RouteKind::DeadGateway,
                            ..Route::via(host, gw, port, 1)
                        };
                        if self.routes.add(r).is_ok() {
                            tracing::warn!(%dst, gateway = %gw, "dead gateway detection: destination moved");
                        }
                    }
                }
            }
            burst_tcp::GatewayChange::Default(gw) => {
                // Every destination follows the new default: drop the per-destination moves.
                let moved: Vec<Cidr> = self
                    .routes
                    .routes()
                    .into_iter()
                    .filter(|r| r.kind == RouteKind::DeadGateway)
                    .map(|r| r.prefix)
                    .collect();
                for p in moved {
                    let _ = self.routes.delete(p, None);
                }
                // Make `gw`'s default route the preferred one: the lowest metric.
                let defaults = self.routes.defaults();
                let best = defaults.iter().map(|r| r.metric).min().unwrap_or(1);
                if let Some(r) = defaults.iter().find(|r| r.gateway == Some(gw)).copied() {
                    if best > 0 {
                        let _ = self.routes.delete(Cidr::DEFAULT, Some(gw));
                        let _ = self.routes.add(Route {
                            metric: best - 1,
                            ..r
                        });
                    } else {
                        for o in defaults.iter().filter(|o| o.gateway != Some(gw)) {
                            let _ = self.routes.delete(Cidr::DEFAULT, o.gateway);
                            let _ = self.routes.add(Route {
                                metric: o.metric + 1,
                                ..*o
                            });
                        }
                    }
                }
                tracing::warn!(gateway = %gw, "dead gateway detection: default gateway changed");
            }
        }
    }
}
