//! ICMP redirects received by a host: the validity checks and the host routes they add.
//!
//! The seeds (001 and 003, "Maintaining Route Tables"): "When a Windows-based computer receives
//! an ICMP redirect, a validity check is performed to be sure that it came from the first-hop
//! gateway in the current route, and that the gateway is on a directly connected network. If
//! so, a host route with a 10-minute lifetime is added to the route table for that destination
//! IP address." RFC 1122 §3.2.2.2 asks the same (discard unless from the current first-hop
//! gateway and naming a gateway on the subnet it arrived through) and that a network redirect
//! be treated as a host redirect, since the destination's subnet mask is not known; the ToS
//! variants are treated the same way (RFC 1812 §5.2.7.2 forbids routers to send network
//! redirects at all).
//!
//! Sans-IO, owned by the control thread next to the [`RouteTable`]. An accepted redirect adds
//! a /32 [`RouteKind::Redirect`] route with `expires` set, so the table's
//! [`RouteTable::expire`] removes it after [`RedirectConfig::lifetime`]; nothing here needs a
//! timer. A redirect for a destination that already has a redirect route replaces it (the new
//! route is added before the old one goes, so the destination never falls back to a shorter
//! route in between).
//!
//! The number of redirect routes is capped like MaxICMPHostRoutes (seed 001: "defines the
//! maximum number of host routes that can be added through the receipt of ICMP Redirect
//! messages"; the seeds defer its default to their Appendix A, which they do not include;
//! Microsoft KB 896350 gives 10000, 0x2710). The count is of the routes this policy added and
//! whose lifetime has not ended, so a route an operator deleted early still counts until then.

use core::fmt;
use core::net::Ipv4Addr;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_wire::icmpv4::{self, Redirect};
use burst_wire::ipv4::{Cidr, Ipv4AddrExt};
use tracing::debug;

use crate::route::{Route, RouteError, RouteKind, RouteTable};
use crate::PortId;

/// MaxICMPHostRoutes' default (KB 896350: "the maximum number of coexisting host routes is
/// 10000").
pub const MAX_ICMP_HOST_ROUTES: usize = 10_000;

/// How long a redirect route lives (seeds: "a host route with a 10-minute lifetime").
pub const REDIRECT_LIFETIME: Nanos = Nanos::from_secs(600);

/// Redirect tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectConfig {
    /// Whether redirects are acted on at all (a host accepts them by default; a router that
    /// forwards should turn this off, RFC 1812 §5.2.7.2).
    pub enabled: bool,
    /// Lifetime of a redirect route.
    pub lifetime: Nanos,
    /// Most redirect routes alive at once (MaxICMPHostRoutes).
    pub max_host_routes: usize,
    /// Metric of redirect routes (they compete only with other /32 routes for the same host;
    /// an equal-metric route added earlier, e.g. a static one, keeps precedence).
    pub metric: u32,
}

impl Default for RedirectConfig {
    fn default() -> Self {
        RedirectConfig {
            enabled: true,
            lifetime: REDIRECT_LIFETIME,
            max_host_routes: MAX_ICMP_HOST_ROUTES,
            metric: 0,
        }
    }
}

/// Why a redirect was ignored (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectRejected {
    /// Redirects are disabled.
    Disabled,
    /// The message is not a redirect.
    NotRedirect,
    /// The redirect code is not one of RFC 792's four.
    UnknownCode(u8),
    /// The quoted datagram is not a valid IPv4 header.
    BadQuote,
    /// The quoted datagram's source is not one of our addresses: we did not send it.
    NotOurDatagram(Ipv4Addr),
    /// The quoted destination is not a unicast address (RFC 1122 §3.2.2.2 redirects are about
    /// hosts).
    DestinationNotUnicast(Ipv4Addr),
    /// The sender is not the current first hop for the destination on this port (RFC 1122
    /// §3.2.2.2; seeds). `current` is the gateway in use, if any.
    NotFromFirstHop {
        /// The gateway the destination's route uses now (`None`: on-link or no route).
        current: Option<Ipv4Addr>,
    },
    /// The new gateway is unspecified, multicast, broadcast, loopback or reserved.
    GatewayNotUnicast(Ipv4Addr),
    /// The new gateway is one of our addresses.
    GatewayIsOurs(Ipv4Addr),
    /// The new gateway is the sender itself: nothing would change.
    SameGateway(Ipv4Addr),
    /// The new gateway is not on a directly connected network of the port the redirect came
    /// in on (seeds).
    GatewayOffLink(Ipv4Addr),
    /// `max_host_routes` redirect routes exist (MaxICMPHostRoutes).
    HostRouteLimit,
    /// The route table refused the route.
    Table(RouteError),
}

impl fmt::Display for RedirectRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectRejected::Disabled => f.write_str("redirects are disabled"),
            RedirectRejected::NotRedirect => f.write_str("not a redirect"),
            RedirectRejected::UnknownCode(c) => write!(f, "unknown redirect code {c}"),
            RedirectRejected::BadQuote => f.write_str("the quoted datagram is not IPv4"),
            RedirectRejected::NotOurDatagram(a) => write!(f, "we did not send from {a}"),
            RedirectRejected::DestinationNotUnicast(a) => write!(f, "{a} is not unicast"),
            RedirectRejected::NotFromFirstHop { current: Some(g) } => {
                write!(f, "not from the current first hop {g}")
            }
            RedirectRejected::NotFromFirstHop { current: None } => {
                f.write_str("the destination has no gateway")
            }
            RedirectRejected::GatewayNotUnicast(a) => write!(f, "gateway {a} is not unicast"),
            RedirectRejected::GatewayIsOurs(a) => write!(f, "gateway {a} is our address"),
            RedirectRejected::SameGateway(a) => write!(f, "{a} redirects to itself"),
            RedirectRejected::GatewayOffLink(a) => write!(f, "gateway {a} is not on-link"),
            RedirectRejected::HostRouteLimit => f.write_str("too many redirect routes"),
            RedirectRejected::Table(e) => write!(f, "route table: {e}"),
        }
    }
}

impl core::error::Error for RedirectRejected {}

/// Redirect counters: one per reason for ignoring one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedirectStats {
    /// Messages handed to [`RedirectPolicy::on_redirect`].
    pub received: u64,
    /// Redirects that added a host route.
    pub accepted: u64,
    /// Accepted redirects that replaced an earlier redirect route for the same destination.
    pub replaced: u64,
    /// Ignored: redirects are disabled.
    pub disabled: u64,
    /// Ignored: not a redirect message.
    pub not_redirect: u64,
    /// Ignored: unknown code.
    pub unknown_code: u64,
    /// Ignored: the quote is not an IPv4 header.
    pub bad_quote: u64,
    /// Ignored: the quoted datagram's source is not ours.
    pub not_our_datagram: u64,
    /// Ignored: the quoted destination is not unicast.
    pub destination_not_unicast: u64,
    /// Ignored: not from the destination's current first-hop gateway.
    pub not_from_first_hop: u64,
    /// Ignored: the new gateway is not a unicast address.
    pub gateway_not_unicast: u64,
    /// Ignored: the new gateway is one of our addresses.
    pub gateway_is_ours: u64,
    /// Ignored: the new gateway is the sender.
    pub same_gateway: u64,
    /// Ignored: the new gateway is not on a connected network of the arrival port.
    pub gateway_off_link: u64,
    /// Ignored: `max_host_routes` redirect routes exist.
    pub host_route_limit: u64,
    /// Ignored: the route table refused the route.
    pub table_errors: u64,
}

/// A redirect route this policy added.
#[derive(Debug, Clone, Copy)]
struct Installed {
    gateway: Ipv4Addr,
    expires: Nanos,
}

/// The host's redirect handling (single owner: the control thread).
#[derive(Debug)]
pub struct RedirectPolicy {
    cfg: RedirectConfig,
    /// Destination → its redirect route (expired ones pruned lazily).
    installed: HashMap<Ipv4Addr, Installed>,
    /// No entry of `installed` expires before this.
    earliest: Option<Nanos>,
    stats: RedirectStats,
}

impl RedirectPolicy {
    /// A policy with no redirect routes yet.
    pub fn new(cfg: RedirectConfig) -> RedirectPolicy {
        RedirectPolicy {
            installed: HashMap::with_capacity_and_hasher(
                cfg.max_host_routes.min(1024),
                Default::default(),
            ),
            earliest: None,
            stats: RedirectStats::default(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RedirectConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> RedirectStats {
        self.stats
    }

    /// Redirect routes added and still within their lifetime at `now`.
    pub fn host_routes(&self, now: Nanos) -> usize {
        self.installed.values().filter(|i| i.expires > now).count()
    }

    /// A redirect `msg` received on `port` from `from` (the IP source). `ours` lists our
    /// addresses with their subnets, per port. On success a /32 route for the quoted
    /// destination through the new gateway is in `routes`, expiring `lifetime` from `now`.
    pub fn on_redirect(
        &mut self,
        port: PortId,
        from: Ipv4Addr,
        msg: &icmpv4::Repr<'_>,
        routes: &mut RouteTable,
        ours: &[(PortId, Cidr)],
        now: Nanos,
    ) -> Result<(), RedirectRejected> {
        self.stats.received += 1;
        let r = self.check_and_install(port, from, msg, routes, ours, now);
        if let Err(e) = r {
            *self.counter(e) += 1;
            debug!(%port, %from, reason = %e, "redirect ignored");
        }
        r
    }

    fn check_and_install(
        &mut self,
        port: PortId,
        from: Ipv4Addr,
        msg: &icmpv4::Repr<'_>,
        routes: &mut RouteTable,
        ours: &[(PortId, Cidr)],
        now: Nanos,
    ) -> Result<(), RedirectRejected> {
        if !self.cfg.enabled {
            return Err(RedirectRejected::Disabled);
        }
        let icmpv4::Repr::Redirect {
            reason, gateway, ..
        } = *msg
        else {
            return Err(RedirectRejected::NotRedirect);
        };
        if let Redirect::Unknown(c) = reason {
            return Err(RedirectRejected::UnknownCode(c));
        }
        let Some(Ok(quoted)) = msg.invoking_datagram() else {
            return Err(RedirectRejected::BadQuote);
        };
        let (src, dst) = (quoted.header.src_addr, quoted.header.dst_addr);
        if !ours.iter().any(|(_, c)| c.address() == src) {
            return Err(RedirectRejected::NotOurDatagram(src));
        }
        if !is_unicast(dst) || ours.iter().any(|(_, c)| is_subnet_broadcast(c, dst)) {
            return Err(RedirectRejected::DestinationNotUnicast(dst));
        }
        // RFC 1122 §3.2.2.2: only the gateway we use for this destination may redirect us.
        let current = routes.route_for(dst).copied();
        let current_gw = current.and_then(|r| r.gateway);
        if current_gw != Some(from) || current.is_some_and(|r| r.port != port) {
            return Err(RedirectRejected::NotFromFirstHop {
                current: current_gw,
            });
        }
        if !is_unicast(gateway) {
            return Err(RedirectRejected::GatewayNotUnicast(gateway));
        }
        if ours.iter().any(|(_, c)| c.address() == gateway) {
            return Err(RedirectRejected::GatewayIsOurs(gateway));
        }
        if gateway == from {
            return Err(RedirectRejected::SameGateway(gateway));
        }
        let on_link = ours.iter().any(|(p, c)| {
            *p == port
                && c.contains_addr(gateway)
                && !c.is_network_address(gateway)
                && !c.is_directed_broadcast(gateway)
        });
        if !on_link {
            return Err(RedirectRejected::GatewayOffLink(gateway));
        }

        let old = self
            .installed
            .get(&dst)
            .copied()
            .filter(|o| o.expires > now);
        if old.is_none() && self.installed.len() >= self.cfg.max_host_routes {
            self.prune(now);
            if self.installed.len() >= self.cfg.max_host_routes {
                return Err(RedirectRejected::HostRouteLimit);
            }
        }
        let prefix = Cidr::new(dst, 32).map_err(|_| RedirectRejected::BadQuote)?;
        // Our own earlier route through this very gateway (it is not the one in use, or the
        // sender would be that gateway): make room for the fresh one. (`delete` matches on the
        // gateway alone, so the port is not compared either.)
        let stale = self
            .installed
            .get(&dst)
            .copied()
            .filter(|o| o.gateway == gateway);
        if stale.is_some() {
            let _ = routes.delete(prefix, Some(gateway));
            self.installed.remove(&dst);
        }
        let expires = now + self.cfg.lifetime;
        routes
            .add(Route {
                prefix,
                gateway: Some(gateway),
                port,
                metric: self.cfg.metric,
                kind: RouteKind::Redirect,
                source: None,
                expires: Some(expires),
            })
            .map_err(RedirectRejected::Table)?;
        // The new route is in; only now does the one it replaces go.
        if let Some(o) = self.installed.get(&dst).copied() {
            // NotFound when the table's `expire` removed it already.
            let _ = routes.delete(prefix, Some(o.gateway));
        }
        if old.is_some() {
            self.stats.replaced += 1;
        }
        self.installed.insert(dst, Installed { gateway, expires });
        self.earliest = Some(self.earliest.map_or(expires, |e| e.min(expires)));
        self.stats.accepted += 1;
        debug!(%port, %from, %dst, %gateway, "redirect accepted: host route added");
        Ok(())
    }

    /// Forgets routes whose lifetime ended (the table's `expire` has removed, or will remove,
    /// them).
    fn prune(&mut self, now: Nanos) {
        if self.earliest.is_none_or(|e| e > now) {
            return;
        }
        self.installed.retain(|_, i| i.expires > now);
        self.earliest = self.installed.values().map(|i| i.expires).min();
    }

    fn counter(&mut self, e: RedirectRejected) -> &mut u64 {
        let s = &mut self.stats;
        match e {
            RedirectRejected::Disabled => &mut s.disabled,
            RedirectRejected::NotRedirect => &mut s.not_redirect,
            RedirectRejected::UnknownCode(_) => &mut s.unknown_code,
            RedirectRejected::BadQuote => &mut s.bad_quote,
            RedirectRejected::NotOurDatagram(_) => &mut s.not_our_datagram,
            RedirectRejected::DestinationNotUnicast(_) => &mut s.destination_not_unicast,
            RedirectRejected::NotFromFirstHop { .. } => &mut s.not_from_first_hop,
            RedirectRejected::GatewayNotUnicast(_) => &mut s.gateway_not_unicast,
            RedirectRejected::GatewayIsOurs(_) => &mut s.gateway_is_ours,
            RedirectRejected::SameGateway(_) => &mut s.same_gateway,
            RedirectRejected::GatewayOffLink(_) => &mut s.gateway_off_link,
            RedirectRejected::HostRouteLimit => &mut s.host_route_limit,
            RedirectRejected::Table(_) => &mut s.table_errors,
        }
    }
}

/// A unicast host address: not unspecified, loopback, multicast, reserved or the limited
/// broadcast.
fn is_unicast(a: Ipv4Addr) -> bool {
    !(a.is_this_network()
        || a.is_loopback()
        || a.is_class_d()
        || a.is_class_e()
        || a.is_limited_broadcast())
}

/// Whether `a` is the directed broadcast or the (old-style broadcast) network address of `c`.
fn is_subnet_broadcast(c: &Cidr, a: Ipv4Addr) -> bool {
    c.is_directed_broadcast(a) || c.is_network_address(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::icmpv4::{Packet, Repr};
    use burst_wire::ipv4::{self, Protocol};
    use burst_wire::{ChecksumCheck, ChecksumMode};

    const P0: PortId = PortId(0);
    const P1: PortId = PortId(1);
    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
    const US1: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
    /// The default gateway.
    const GW: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    /// A better router on the same link.
    const GW2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const GW3: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
    const FAR: Ipv4Addr = Ipv4Addr::new(198, 19, 5, 5);
    const FAR2: Ipv4Addr = Ipv4Addr::new(198, 19, 5, 6);
    const MIN10: Nanos = Nanos::from_secs(600);

    fn ours() -> Vec<(PortId, Cidr)> {
        vec![
            (P0, Cidr::new(US, 24).unwrap()),
            (P1, Cidr::new(US1, 24).unwrap()),
        ]
    }

    fn table() -> RouteTable {
        let mut t = RouteTable::new(64, 256);
        for (p, c) in ours() {
            t.add(Route::connected(c, p, c.address())).unwrap();
        }
        t.add(Route::via(Cidr::DEFAULT, GW, P0, 10)).unwrap();
        t
    }

    /// A redirect (as received: emitted and parsed back) about a UDP datagram we sent from
    /// `src` to `dst`, pointing at `gateway`.
    fn redirect(code: u8, gateway: Ipv4Addr, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let mut original = [0u8; 28];
        ipv4::Repr::new(src, dst, Protocol::UDP, 8, 63).emit(
            &mut ipv4::Packet::new_unchecked(&mut original[..]),
            ChecksumMode::Compute,
        );
        original[20..].copy_from_slice(&[0xc0, 0x01, 0, 53, 0, 8, 0, 0]);
        let r = Repr::Redirect {
            reason: code.into(),
            gateway,
            invoking: &original,
        };
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }

    struct Host {
        policy: RedirectPolicy,
        routes: RouteTable,
    }

    impl Host {
        fn new(cfg: RedirectConfig) -> Host {
            Host {
                policy: RedirectPolicy::new(cfg),
                routes: table(),
            }
        }

        fn rx(
            &mut self,
            port: PortId,
            from: Ipv4Addr,
            msg: &[u8],
            now: Nanos,
        ) -> Result<(), RedirectRejected> {
            let p = Packet::new_checked(msg).unwrap();
            let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
            self.policy
                .on_redirect(port, from, &r, &mut self.routes, &ours(), now)
        }

        fn gateway_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
            self.routes.lookup(dst).and_then(|h| h.gateway)
        }
    }

    #[test]
    fn accepted_from_the_current_gateway() {
        let mut h = Host::new(RedirectConfig::default());
        assert_eq!(h.gateway_for(FAR), Some(GW));
        let t0 = Nanos::from_secs(5);
        // A network redirect is taken as a host redirect.
        h.rx(P0, GW, &redirect(0, GW2, US, FAR), t0).unwrap();
        assert_eq!(h.gateway_for(FAR), Some(GW2));
        assert_eq!(h.gateway_for(FAR2), Some(GW), "only the host is redirected");
        let r = *h.routes.route_for(FAR).unwrap();
        assert_eq!(r.prefix, Cidr::new(FAR, 32).unwrap());
        assert_eq!(
            (r.kind, r.port, r.expires),
            (RouteKind::Redirect, P0, Some(t0 + MIN10))
        );
        assert_eq!(h.policy.stats().accepted, 1);
        assert_eq!(h.policy.host_routes(t0), 1);

        // Now GW2 is the first hop for FAR: it may redirect again (to GW3), GW may not.
        assert_eq!(
            h.rx(P0, GW, &redirect(1, GW3, US, FAR), t0),
            Err(RedirectRejected::NotFromFirstHop { current: Some(GW2) })
        );
        h.rx(
            P0,
            GW2,
            &redirect(1, GW3, US, FAR),
            t0 + Nanos::from_secs(1),
        )
        .unwrap();
        assert_eq!(h.gateway_for(FAR), Some(GW3));
        let host_routes: Vec<Route> = h
            .routes
            .routes()
            .into_iter()
            .filter(|r| r.prefix.prefix_len() == 32 && r.kind == RouteKind::Redirect)
            .collect();
        assert_eq!(host_routes.len(), 1, "{host_routes:?}");
        assert_eq!(h.policy.stats().replaced, 1);
        assert_eq!(h.policy.host_routes(t0), 1);
    }

    #[test]
    fn rejected_unless_every_check_passes() {
        let mut h = Host::new(RedirectConfig::default());
        let now = Nanos::from_secs(1);
        let cases: [(PortId, Ipv4Addr, Vec<u8>, RedirectRejected); 10] = [
            // From another router on the link, not the current first hop.
            (
                P0,
                GW3,
                redirect(1, GW2, US, FAR),
                RedirectRejected::NotFromFirstHop { current: Some(GW) },
            ),
            // The right router, but on the wrong port.
            (
                P1,
                GW,
                redirect(1, GW2, US, FAR),
                RedirectRejected::NotFromFirstHop { current: Some(GW) },
            ),
            // For an on-link destination there is no gateway to be redirected from.
            (
                P0,
                GW,
                redirect(1, GW2, US, Ipv4Addr::new(198, 18, 0, 77)),
                RedirectRejected::NotFromFirstHop { current: None },
            ),
            // Off-link new gateway: another port's subnet, or nowhere.
            (
                P0,
                GW,
                redirect(1, Ipv4Addr::new(198, 18, 1, 2), US, FAR),
                RedirectRejected::GatewayOffLink(Ipv4Addr::new(198, 18, 1, 2)),
            ),
            (
                P0,
                GW,
                redirect(1, Ipv4Addr::new(198, 19, 9, 9), US, FAR),
                RedirectRejected::GatewayOffLink(Ipv4Addr::new(198, 19, 9, 9)),
            ),
            // The subnet's broadcast address is not a gateway either.
            (
                P0,
                GW,
                redirect(1, Ipv4Addr::new(198, 18, 0, 255), US, FAR),
                RedirectRejected::GatewayOffLink(Ipv4Addr::new(198, 18, 0, 255)),
            ),
            // Ours.
            (
                P0,
                GW,
                redirect(1, US, US, FAR),
                RedirectRejected::GatewayIsOurs(US),
            ),
            // Multicast destination; multicast gateway.
            (
                P0,
                GW,
                redirect(1, GW2, US, Ipv4Addr::new(224, 0, 0, 9)),
                RedirectRejected::DestinationNotUnicast(Ipv4Addr::new(224, 0, 0, 9)),
            ),
            (
                P0,
                GW,
                redirect(1, Ipv4Addr::new(224, 0, 0, 2), US, FAR),
                RedirectRejected::GatewayNotUnicast(Ipv4Addr::new(224, 0, 0, 2)),
            ),
            // A datagram we never sent.
            (
                P0,
                GW,
                redirect(1, GW2, Ipv4Addr::new(198, 18, 0, 99), FAR),
                RedirectRejected::NotOurDatagram(Ipv4Addr::new(198, 18, 0, 99)),
            ),
        ];
        for (port, from, msg, want) in &cases {
            assert_eq!(h.rx(*port, *from, msg, now), Err(*want));
            assert_eq!(h.gateway_for(FAR), Some(GW), "{want:?} changed the route");
        }
        assert_eq!(
            h.rx(P0, GW, &redirect(1, GW, US, FAR), now),
            Err(RedirectRejected::SameGateway(GW))
        );
        assert_eq!(
            h.rx(P0, GW, &redirect(4, GW2, US, FAR), now),
            Err(RedirectRejected::UnknownCode(4))
        );
        let s = h.policy.stats();
        assert_eq!(s.received, 12);
        assert_eq!(s.not_from_first_hop, 3);
        assert_eq!(s.gateway_off_link, 3);
        assert_eq!(s.gateway_is_ours, 1);
        assert_eq!(s.destination_not_unicast, 1);
        assert_eq!(s.gateway_not_unicast, 1);
        assert_eq!(s.not_our_datagram, 1);
        assert_eq!(s.same_gateway, 1);
        assert_eq!(s.unknown_code, 1);
        assert_eq!(s.accepted, 0);
        assert_eq!(h.routes.routes().len(), 3);

        // Not a redirect; disabled.
        let echo = Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: &[],
        };
        assert_eq!(
            h.policy
                .on_redirect(P0, GW, &echo, &mut h.routes, &ours(), now),
            Err(RedirectRejected::NotRedirect)
        );
        let mut off = Host::new(RedirectConfig {
            enabled: false,
            ..RedirectConfig::default()
        });
        assert_eq!(
            off.rx(P0, GW, &redirect(1, GW2, US, FAR), now),
            Err(RedirectRejected::Disabled)
        );
        assert_eq!(off.policy.stats().disabled, 1);
    }

    #[test]
    fn host_route_cap() {
        let mut h = Host::new(RedirectConfig {
            max_host_routes: 2,
            ..RedirectConfig::default()
        });
        let dst = |i: u8| Ipv4Addr::new(198, 19, 7, i);
        let t0 = Nanos::from_secs(1);
        h.rx(P0, GW, &redirect(1, GW2, US, dst(1)), t0).unwrap();
        h.rx(
            P0,
            GW,
            &redirect(1, GW2, US, dst(2)),
            t0 + Nanos::from_secs(60),
        )
        .unwrap();
        assert_eq!(
            h.rx(
                P0,
                GW,
                &redirect(1, GW2, US, dst(3)),
                t0 + Nanos::from_secs(61)
            ),
            Err(RedirectRejected::HostRouteLimit)
        );
        assert_eq!(h.gateway_for(dst(3)), Some(GW));
        assert_eq!(h.policy.stats().host_route_limit, 1);
        // Replacing an existing one is not a new route.
        h.rx(
            P0,
            GW2,
            &redirect(1, GW3, US, dst(1)),
            t0 + Nanos::from_secs(62),
        )
        .unwrap();
        assert_eq!(h.gateway_for(dst(1)), Some(GW3));
        // Once dst(2)'s lifetime is over there is room again.
        let later = t0 + Nanos::from_secs(60) + MIN10;
        assert_eq!(h.routes.expire(later), 1);
        h.rx(P0, GW, &redirect(1, GW2, US, dst(3)), later).unwrap();
        assert_eq!(h.gateway_for(dst(3)), Some(GW2));
        assert_eq!(h.policy.host_routes(later), 2);
    }

    #[test]
    fn expires_after_ten_minutes() {
        let mut h = Host::new(RedirectConfig::default());
        let t0 = Nanos::from_secs(30);
        h.rx(P0, GW, &redirect(1, GW2, US, FAR), t0).unwrap();
        assert_eq!(h.routes.next_deadline(), Some(t0 + MIN10));
        assert_eq!(h.routes.expire(t0 + MIN10 - Nanos(1)), 0);
        assert_eq!(h.gateway_for(FAR), Some(GW2));
        assert_eq!(h.routes.expire(t0 + MIN10), 1);
        assert_eq!(h.gateway_for(FAR), Some(GW));
        assert_eq!(h.policy.host_routes(t0 + MIN10), 0);
        // The default gateway may redirect the destination again.
        h.rx(P0, GW, &redirect(1, GW2, US, FAR), t0 + MIN10)
            .unwrap();
        assert_eq!(h.gateway_for(FAR), Some(GW2));
        assert_eq!(h.policy.stats().replaced, 0);
    }
}
