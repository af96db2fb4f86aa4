//! The route table: `ctl route` requests, and what the workers' ICMP notes teach it (host routes
//! from accepted redirects, path MTUs from fragmentation-needed errors). Kept apart from dead
//! gateway detection (`dgd.rs`), which rewrites default routes on its own.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Port};
use burst_stack::epoch::Published;
use burst_stack::pmtu::{PmtuCache, PmtuSnapshot};
use burst_stack::redirect::{RedirectConfig, RedirectPolicy};
use burst_stack::route::{Route, RouteKind, RouteTable};
use burst_stack::PortId;
use burst_wire::icmpv4;
use burst_wire::ipv4::Cidr;
use burst_wire::ChecksumCheck;

use super::Control;
use crate::ctl::{Response, RouteEntry};

impl<P: Port> Control<P> {
    /// An ICMP redirect (accepted only per the redirect policy's checks) or fragmentation
    /// needed (into the path MTU cache) that a worker received.
    pub(super) fn icmp_note(&mut self, port: PortId, from: Ipv4Addr, msg: &[u8], now: Nanos) {
        let Ok(p) = icmpv4::Packet::new_checked(msg) else {
            return;
        };
        let Ok(repr) = icmpv4::Repr::parse(&p, ChecksumCheck::Trust) else {
            return;
        };
        match repr {
            icmpv4::Repr::Redirect { .. } => {
                let ours = self.our_subnets();
                match self
                    .redirects
                    .on_redirect(port, from, &repr, &mut self.routes, &ours, now)
                {
                    Ok(()) => tracing::info!(%from, "ICMP redirect accepted: host route installed"),
                    Err(e) => tracing::debug!(%from, "ICMP redirect rejected: {e:?}"),
                }
            }
            icmpv4::Repr::DstUnreachable { .. } => {
                if let Some((dst, mtu)) = self.pmtu.on_icmp(&repr, now) {
                    tracing::info!(%dst, mtu, "path MTU lowered");
                    self.publish_pmtu(now);
                }
            }
            _ => {}
        }
    }

    /// What to do with ICMP redirects (`[icmp] accept_redirects`, `redirect_lifetime`).
    pub fn set_redirect_config(&mut self, cfg: RedirectConfig) {
        self.redirects = RedirectPolicy::new(cfg);
    }

    /// Sets the largest MTU of our ports (a reported path MTU above it is ignored) and the
    /// handle through which the workers read the path MTU cache.
    pub fn set_pmtu(&mut self, link_mtu: u16, publisher: Published<PmtuSnapshot>) {
        self.pmtu = PmtuCache::new(*self.pmtu.config(), link_mtu);
        self.pmtu_pub = Some(publisher);
    }

    /// Publishes the path MTU cache to the workers when it changed (a new, lowered or aged
    /// entry).
    pub(super) fn publish_pmtu(&mut self, now: Nanos) {
        let Some(p) = self.pmtu_pub.as_mut() else {
            return;
        };
        if self.pmtu.version() != self.pmtu_published {
            self.pmtu_published = self.pmtu.version();
            p.publish(self.pmtu.snapshot(now));
        }
    }

    /// The path MTU learned for `dst`, if any.
    pub fn path_mtu(&self, dst: Ipv4Addr, now: Nanos) -> Option<u16> {
        self.pmtu.get(dst, now)
    }

    pub(super) fn route_entries(&self) -> Vec<RouteEntry> {
        self.routes
            .routes()
            .into_iter()
            .map(|r| {
                let m = &self.meta[usize::from(r.port.0)];
                RouteEntry {
                    network: r.prefix.network().address(),
                    netmask: r.prefix.netmask(),
                    gateway: r.gateway.map_or("On-link".into(), |g| g.to_string()),
                    interface: r
                        .source
                        .or_else(|| m.addrs.first().map(|c| c.address()))
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                    port: m.name.clone(),
                    metric: r.metric,
                    preference: match (r.kind, r.gateway) {
                        (RouteKind::RouterDiscovery, Some(g)) => self.rdisc_preference(r.port, g),
                        _ => None,
                    },
                    kind: match r.kind {
                        RouteKind::Connected => "connected",
                        RouteKind::Static => "static",
                        RouteKind::Redirect => "redirect",
                        RouteKind::RouterDiscovery => "router-discovery",
                        RouteKind::DeadGateway => "dead-gateway",
                    }
                    .into(),
                }
            })
            .collect()
    }

    pub(super) fn route_add(&mut self, prefix: &str, via: Ipv4Addr, metric: u32) -> Response {
        let p = match prefix.parse::<Cidr>() {
            Ok(p) => p,
            Err(e) => {
                return Response::Error {
                    message: format!("{prefix}: {e}"),
                }
            }
        };
        let Some(port) = self.port_for(via) else {
            return Response::Error {
                message: format!("gateway {via} is on no port's subnet"),
            };
        };
        match self.routes.add(Route::via(p.network(), via, port, metric)) {
            Ok(()) => Response::Ok,
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    /// The route table (for the node's setup and tests).
    pub fn routes_mut(&mut self) -> &mut RouteTable {
        &mut self.routes
    }
}
