//! ICMP router discovery, host side (RFC 1256): solicitations when a port starts, and default
//! routes from the advertisements routers send.
//!
//! Off by default ([`RdiscConfig::enabled`]; the seeds' PerformRouterDiscovery defaults to
//! "DHCP controlled", and burst has no DHCP). When enabled, following seeds 001/003 ("ICMP
//! Router Discovery"): the host joins the all-systems group 224.0.0.1 ([`Rdisc::groups`], for
//! the multicast filter) and, when a port starts, "sends a maximum of three solicitations at
//! intervals of approximately 600 milliseconds" to the all-routers group 224.0.0.2, or to
//! 255.255.255.255 with SolicitationAddressBCast. (RFC 1256 §6's own host constants are
//! MAX_SOLICITATIONS 3 and SOLICITATION_INTERVAL 3 s; the seeds' shorter interval is the
//! default here.) Solicitation stops at the first advertisement received on the port.
//!
//! Advertisements are acted on whenever they arrive (RFC 1256 hosts listen all the time; the
//! wire parser has done RFC 1256's validation: code 0, at least one entry, entry size 2+).
//! Each entry whose router address is on a subnet of the receiving port becomes a default route
//! ([`RouteKind::RouterDiscovery`]) through that router on that port, with the preference level
//! mapped to the metric by [`preference_to_metric`] (higher preference, lower metric), living
//! for the advertised lifetime. Preference 0x80000000 means "never a default router": such
//! entries are skipped (and withdraw an earlier route through that router); lifetime 0
//! withdraws the routers listed.
//!
//! Lifetimes are kept here, not in the route's `expires`: a router re-advertises every few
//! minutes, and refreshing a table route would mean deleting and re-adding it, leaving workers
//! a moment with no default route. A refresh with an unchanged preference therefore only moves
//! the deadline here, and [`Rdisc::poll`] deletes routes whose lifetime ended.
//!
//! Sans-IO: the driver calls [`Rdisc::start`] when a port comes up, hands in advertisements
//! with [`Rdisc::on_advertisement`], and calls [`Rdisc::poll`] at [`Rdisc::next_deadline`].

use core::net::Ipv4Addr;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_wire::icmpv4;
use burst_wire::ipv4::Cidr;
use tracing::{debug, info};

use crate::route::{Route, RouteKind, RouteTable};
use crate::PortId;

/// The all-systems multicast group hosts listen to advertisements on.
pub const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// The all-routers multicast group solicitations go to.
pub const ALL_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// The preference level that marks an address as not to be used as a default router
/// (RFC 1256 §3, 0x80000000).
pub const INELIGIBLE: i32 = i32::MIN;

/// The route metric for an advertised preference level: `0x7fff_ffff - preference`, so the
/// order reverses exactly (the highest preference, 0x7fffffff, gets metric 0; preference 0
/// gets 0x7fffffff; the lowest eligible one, 0x80000001, gets 0xfffffffe). `None` for
/// [`INELIGIBLE`].
///
/// A configured default route with a metric below 0x7fffffff therefore wins over discovered
/// routers advertising the usual preference 0.
pub fn preference_to_metric(preference: i32) -> Option<u32> {
    (preference != INELIGIBLE).then(|| (i64::from(i32::MAX) - i64::from(preference)) as u32)
}

/// Router discovery tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdiscConfig {
    /// Whether router discovery runs (PerformRouterDiscovery).
    pub enabled: bool,
    /// Solicitations sent when a port starts (seeds: at most three).
    pub solicitations: u8,
    /// Time between solicitations (seeds: about 600 ms).
    pub interval: Nanos,
    /// Broadcast solicitations to 255.255.255.255 instead of 224.0.0.2
    /// (SolicitationAddressBCast).
    pub solicitation_address_broadcast: bool,
    /// Most routers held at once (further ones are ignored until one goes).
    pub max_routers: usize,
}

impl Default for RdiscConfig {
    fn default() -> Self {
        RdiscConfig {
            enabled: false,
            solicitations: 3,
            interval: Nanos::from_millis(600),
            solicitation_address_broadcast: false,
            max_routers: 32,
        }
    }
}

/// What router discovery needs from the rest of the system.
pub trait RdiscOutput {
    /// Sends `repr` on `port` to `dst` (the runtime picks the port's address as source and
    /// TTL 1, RFC 1256 §3).
    fn send_icmp(&mut self, port: PortId, dst: Ipv4Addr, repr: &icmpv4::Repr<'_>);
}

/// Router discovery counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdiscStats {
    /// Solicitations sent.
    pub solicitations_sent: u64,
    /// Messages handed to [`Rdisc::on_advertisement`].
    pub advertisements_received: u64,
    /// Ignored: router discovery is disabled.
    pub disabled: u64,
    /// Ignored: not a router advertisement.
    pub not_advertisement: u64,
    /// Entries ignored: the router address is not on a subnet of the receiving port (or is
    /// ours).
    pub entries_off_subnet: u64,
    /// Entries ignored: preference 0x80000000 (not to be used as a default router).
    pub entries_ineligible: u64,
    /// Entries ignored: `max_routers` routers are held.
    pub entries_over_limit: u64,
    /// Entries ignored: the route table refused the route (e.g. a configured default through
    /// the same router on the port).
    pub route_errors: u64,
    /// Routers added as default gateways.
    pub routers_added: u64,
    /// Routers re-advertised: lifetime refreshed.
    pub routers_refreshed: u64,
    /// Routers whose preference changed: route re-added with the new metric.
    pub routers_updated: u64,
    /// Routers removed by an advertisement (lifetime 0 or now ineligible).
    pub routers_withdrawn: u64,
    /// Routers removed when their lifetime ended.
    pub routers_expired: u64,
}

/// A discovered default router (for `route print`-style listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterInfo {
    /// The port it is reached on.
    pub port: PortId,
    /// The router's address.
    pub addr: Ipv4Addr,
    /// The advertised preference level.
    pub preference: i32,
    /// When its lifetime ends.
    pub expires: Nanos,
}

#[derive(Debug, Clone, Copy)]
struct Soliciting {
    port: PortId,
    sent: u8,
    next: Nanos,
}

#[derive(Debug, Clone, Copy)]
struct Learned {
    preference: i32,
    expires: Nanos,
}

/// The host's router discovery state (single owner: the control thread).
#[derive(Debug)]
pub struct Rdisc {
    cfg: RdiscConfig,
    soliciting: Vec<Soliciting>,
    routers: HashMap<(PortId, Ipv4Addr), Learned>,
    stats: RdiscStats,
}

impl Rdisc {
    /// Router discovery with nothing started.
    pub fn new(cfg: RdiscConfig) -> Rdisc {
        Rdisc {
            soliciting: Vec::new(),
            routers: HashMap::with_capacity_and_hasher(
                cfg.max_routers.min(1024),
                Default::default(),
            ),
            stats: RdiscStats::default(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RdiscConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> RdiscStats {
        self.stats
    }

    /// The multicast groups to receive on every port: 224.0.0.1 when enabled, else none.
    pub fn groups(&self) -> &'static [Ipv4Addr] {
        if self.cfg.enabled {
            &[ALL_SYSTEMS]
        } else {
            &[]
        }
    }

    /// Where solicitations go: 224.0.0.2, or 255.255.255.255 with
    /// `solicitation_address_broadcast`.
    pub fn solicitation_destination(&self) -> Ipv4Addr {
        if self.cfg.solicitation_address_broadcast {
            Ipv4Addr::BROADCAST
        } else {
            ALL_ROUTERS
        }
    }

    /// `port` came up: the first solicitation goes out now, the others `interval` apart
    /// (from [`poll`](Self::poll)). Restarts the sequence if it was running. No-op when
    /// disabled.
    pub fn start<O: RdiscOutput>(&mut self, port: PortId, now: Nanos, out: &mut O) {
        if !self.cfg.enabled {
            return;
        }
        self.soliciting.retain(|s| s.port != port);
        if self.cfg.solicitations == 0 {
            return;
        }
        info!(%port, "router discovery started");
        self.soliciting.push(Soliciting {
            port,
            sent: 0,
            next: now,
        });
        self.send_due(now, out);
    }

    /// `port` went down: no more solicitations, and its discovered routes are deleted.
    pub fn stop(&mut self, port: PortId, routes: &mut RouteTable) {
        self.soliciting.retain(|s| s.port != port);
        self.routers.retain(|&(p, addr), _| {
            if p == port {
                let _ = routes.delete(Cidr::DEFAULT, Some(addr));
            }
            p != port
        });
    }

    /// A message received on `port` from `from` that should be a router advertisement. `ours`
    /// lists our addresses with their subnets, per port. Returns how many routers it added,
    /// refreshed or updated.
    pub fn on_advertisement(
        &mut self,
        port: PortId,
        from: Ipv4Addr,
        msg: &icmpv4::Repr<'_>,
        ours: &[(PortId, Cidr)],
        routes: &mut RouteTable,
        now: Nanos,
    ) -> usize {
        self.stats.advertisements_received += 1;
        if !self.cfg.enabled {
            self.stats.disabled += 1;
            return 0;
        }
        let icmpv4::Repr::RouterAdvertisement { lifetime, entries } = *msg else {
            self.stats.not_advertisement += 1;
            return 0;
        };
        if let Some(i) = self.soliciting.iter().position(|s| s.port == port) {
            debug!(%port, %from, "router discovery: advertisement received, soliciting stops");
            self.soliciting.swap_remove(i);
        }
        let expires = now + Nanos::from_secs(u64::from(lifetime));
        let mut used = 0;
        for (addr, preference) in entries {
            // RFC 1256: only router addresses on a subnet of the receiving interface count.
            let Some(source) = ours.iter().find_map(|(p, c)| {
                (*p == port
                    && c.contains_addr(addr)
                    && addr != c.address()
                    && !c.is_network_address(addr)
                    && !c.is_directed_broadcast(addr))
                .then_some(c.address())
            }) else {
                self.stats.entries_off_subnet += 1;
                continue;
            };
            let key = (port, addr);
            let known = self.routers.get(&key).copied();
            let Some(metric) = preference_to_metric(preference).filter(|_| lifetime > 0) else {
                if preference == INELIGIBLE {
                    self.stats.entries_ineligible += 1;
                }
                if known.is_some() {
                    self.forget(key, routes);
                    self.stats.routers_withdrawn += 1;
                    info!(%port, router = %addr, "router discovery: router withdrawn");
                }
                continue;
            };
            let updated = match known {
                Some(k) if k.preference == preference => {
                    self.routers.insert(
                        key,
                        Learned {
                            preference,
                            expires,
                        },
                    );
                    self.stats.routers_refreshed += 1;
                    used += 1;
                    continue;
                }
                Some(_) => {
                    // Two routes through one gateway and port cannot coexist: re-add.
                    self.forget(key, routes);
                    true
                }
                None if self.routers.len() >= self.cfg.max_routers => {
                    self.stats.entries_over_limit += 1;
                    continue;
                }
                None => false,
            };
            let route = Route {
                prefix: Cidr::DEFAULT,
                gateway: Some(addr),
                port,
                metric,
                kind: RouteKind::RouterDiscovery,
                source: Some(source),
                expires: None,
            };
            if let Err(e) = routes.add(route) {
                self.stats.route_errors += 1;
                debug!(%port, router = %addr, error = %e, "router discovery: route refused");
                continue;
            }
            self.routers.insert(
                key,
                Learned {
                    preference,
                    expires,
                },
            );
            if updated {
                self.stats.routers_updated += 1;
            } else {
                self.stats.routers_added += 1;
            }
            used += 1;
            info!(%port, router = %addr, preference, lifetime, "router discovery: default router");
        }
        used
    }

    /// Sends the solicitations due and deletes routers whose lifetime ended at or before `now`.
    pub fn poll<O: RdiscOutput>(&mut self, now: Nanos, routes: &mut RouteTable, out: &mut O) {
        if !self.cfg.enabled {
            return;
        }
        self.send_due(now, out);
        let mut expired = 0;
        self.routers.retain(|&(port, addr), l| {
            let due = l.expires <= now;
            if due {
                let _ = routes.delete(Cidr::DEFAULT, Some(addr));
                expired += 1;
                info!(%port, router = %addr, "router discovery: router lifetime ended");
            }
            !due
        });
        self.stats.routers_expired += expired;
    }

    /// When [`poll`](Self::poll) has something to do next.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let s = self.soliciting.iter().map(|s| s.next);
        let r = self.routers.values().map(|l| l.expires);
        s.chain(r).min()
    }

    /// The routers in use, by port and address.
    pub fn routers(&self) -> Vec<RouterInfo> {
        let mut v: Vec<RouterInfo> = self
            .routers
            .iter()
            .map(|(&(port, addr), l)| RouterInfo {
                port,
                addr,
                preference: l.preference,
                expires: l.expires,
            })
            .collect();
        v.sort_by_key(|r| (r.port, r.addr));
        v
    }

    fn forget(&mut self, key: (PortId, Ipv4Addr), routes: &mut RouteTable) {
        self.routers.remove(&key);
        let _ = routes.delete(Cidr::DEFAULT, Some(key.1));
    }

    fn send_due<O: RdiscOutput>(&mut self, now: Nanos, out: &mut O) {
        let dst = self.solicitation_destination();
        let (limit, interval) = (self.cfg.solicitations, self.cfg.interval);
        let mut sent = 0;
        self.soliciting.retain_mut(|s| {
            if s.next > now {
                return true;
            }
            out.send_icmp(s.port, dst, &icmpv4::Repr::RouterSolicitation);
            sent += 1;
            s.sent += 1;
            // At least `interval` between two, even when polled late.
            s.next = now + interval;
            debug!(port = %s.port, n = s.sent, %dst, "router discovery: solicitation sent");
            s.sent < limit
        });
        self.stats.solicitations_sent += sent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::icmpv4::{Message, Packet, Repr, RouterEntries};
    use burst_wire::ChecksumCheck;

    const P0: PortId = PortId(0);
    const P1: PortId = PortId(1);
    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
    const US1: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
    const R1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const R3: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    fn s(v: u64) -> Nanos {
        Nanos::from_secs(v)
    }

    fn ours() -> Vec<(PortId, Cidr)> {
        vec![
            (P0, Cidr::new(US, 24).unwrap()),
            (P1, Cidr::new(US1, 24).unwrap()),
        ]
    }

    fn table() -> RouteTable {
        let mut t = RouteTable::new(16, 64);
        for (p, c) in ours() {
            t.add(Route::connected(c, p, c.address())).unwrap();
        }
        t
    }

    fn enabled() -> RdiscConfig {
        RdiscConfig {
            enabled: true,
            ..RdiscConfig::default()
        }
    }

    /// Records what was sent, as bytes on the wire: (port, destination, message bytes).
    #[derive(Default)]
    struct Fake {
        sent: Vec<(PortId, Ipv4Addr, Vec<u8>)>,
    }

    impl RdiscOutput for Fake {
        fn send_icmp(&mut self, port: PortId, dst: Ipv4Addr, repr: &Repr<'_>) {
            let mut buf = vec![0xa5u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            self.sent.push((port, dst, buf));
        }
    }

    /// An advertisement as received (emitted with burst-wire, parsed back).
    fn advertisement(lifetime: u16, entries: &[(Ipv4Addr, i32)]) -> Vec<u8> {
        let mut eb = vec![0u8; entries.len() * 8];
        let r = Repr::RouterAdvertisement {
            lifetime,
            entries: RouterEntries::encode(&mut eb, entries).unwrap(),
        };
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }

    struct Host {
        rd: Rdisc,
        routes: RouteTable,
        out: Fake,
    }

    impl Host {
        fn new(cfg: RdiscConfig) -> Host {
            Host {
                rd: Rdisc::new(cfg),
                routes: table(),
                out: Fake::default(),
            }
        }

        fn rx(&mut self, port: PortId, from: Ipv4Addr, msg: &[u8], now: Nanos) -> usize {
            let p = Packet::new_checked(msg).unwrap();
            let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
            self.rd
                .on_advertisement(port, from, &r, &ours(), &mut self.routes, now)
        }

        /// Polls every millisecond from `from` to `to` inclusive.
        fn run(&mut self, from: Nanos, to: Nanos) {
            let mut t = from;
            while t <= to {
                self.rd.poll(t, &mut self.routes, &mut self.out);
                t += ms(1);
            }
        }

        fn default_gateways(&self) -> Vec<(Ipv4Addr, u32)> {
            self.routes
                .defaults()
                .iter()
                .map(|r| (r.gateway.unwrap(), r.metric))
                .collect()
        }
    }

    #[test]
    fn three_solicitations_600ms_apart_to_all_routers() {
        let mut h = Host::new(enabled());
        assert_eq!(h.rd.groups(), &[ALL_SYSTEMS]);
        let t0 = s(10);
        h.rd.start(P0, t0, &mut h.out);
        assert_eq!(h.out.sent.len(), 1, "the first goes out at once");
        assert_eq!(h.rd.next_deadline(), Some(t0 + ms(600)));
        h.run(t0, t0 + s(5));
        let times: Vec<(PortId, Ipv4Addr)> = h.out.sent.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(times, [(P0, ALL_ROUTERS); 3]);
        for (_, _, bytes) in &h.out.sent {
            let p = Packet::new_checked(&bytes[..]).unwrap();
            assert!(p.verify_checksum());
            assert_eq!(
                (p.msg_type(), p.code(), bytes.len()),
                (Message::RouterSolicitation, 0, 8)
            );
            assert_eq!(
                Repr::parse(&p, ChecksumCheck::Verify).unwrap(),
                Repr::RouterSolicitation
            );
        }
        assert_eq!(h.rd.stats().solicitations_sent, 3);
        assert_eq!(h.rd.next_deadline(), None);
    }

    #[test]
    fn solicitation_spacing_and_broadcast() {
        let mut h = Host::new(RdiscConfig {
            solicitation_address_broadcast: true,
            ..enabled()
        });
        let t0 = s(1);
        h.rd.start(P1, t0, &mut h.out);
        // Step the clock and record when each one went out.
        let mut at = vec![t0];
        let mut t = t0;
        while t <= t0 + s(3) {
            let before = h.out.sent.len();
            h.rd.poll(t, &mut h.routes, &mut h.out);
            if h.out.sent.len() > before {
                at.push(t);
            }
            t += ms(1);
        }
        assert_eq!(at, [t0, t0 + ms(600), t0 + ms(1200)]);
        assert!(h
            .out
            .sent
            .iter()
            .all(|e| e.0 == P1 && e.1 == Ipv4Addr::BROADCAST));
        // Polled late: the next one still waits a full interval after the last.
        let mut h = Host::new(enabled());
        h.rd.start(P0, t0, &mut h.out);
        h.rd.poll(t0 + ms(2000), &mut h.routes, &mut h.out);
        assert_eq!(h.out.sent.len(), 2);
        assert_eq!(h.rd.next_deadline(), Some(t0 + ms(2600)));
    }

    #[test]
    fn advertisement_stops_soliciting_and_installs_routers_by_preference() {
        let mut h = Host::new(enabled());
        let t0 = s(1);
        h.rd.start(P0, t0, &mut h.out);
        h.rd.start(P1, t0, &mut h.out);
        h.run(t0, t0 + ms(700));
        assert_eq!(h.out.sent.len(), 4);
        // R2 prefers itself most; R1 has the usual 0; R3 is ineligible; 198.18.1.1 is on the
        // other port's subnet and 198.19.0.1 on none.
        let ad = advertisement(
            1800,
            &[
                (R1, 0),
                (R2, 10),
                (R3, INELIGIBLE),
                (Ipv4Addr::new(198, 18, 1, 1), 5),
                (Ipv4Addr::new(198, 19, 0, 1), 50),
            ],
        );
        assert_eq!(h.rx(P0, R1, &ad, t0 + ms(800)), 2);
        assert_eq!(h.default_gateways(), [(R2, 0x7fff_fff5), (R1, 0x7fff_ffff)]);
        assert_eq!(
            h.routes
                .lookup(Ipv4Addr::new(198, 19, 9, 9))
                .unwrap()
                .gateway,
            Some(R2)
        );
        let d = h.routes.defaults();
        assert!(d
            .iter()
            .all(|r| r.kind == RouteKind::RouterDiscovery && r.port == P0 && r.source == Some(US)));
        let st = h.rd.stats();
        assert_eq!(
            (
                st.entries_ineligible,
                st.entries_off_subnet,
                st.routers_added
            ),
            (1, 2, 2)
        );
        // P0 stopped soliciting; P1 goes on to its third.
        h.run(t0 + ms(801), t0 + s(5));
        let p0 = h.out.sent.iter().filter(|e| e.0 == P0).count();
        let p1 = h.out.sent.iter().filter(|e| e.0 == P1).count();
        assert_eq!((p0, p1), (2, 3));
        // A configured default with a small metric outranks the usual preference 0 only.
        h.routes
            .add(Route::via(Cidr::DEFAULT, R3, P0, 100))
            .unwrap();
        assert_eq!(
            h.default_gateways(),
            [(R3, 100), (R2, 0x7fff_fff5), (R1, 0x7fff_ffff)]
        );
    }

    #[test]
    fn preference_mapping_is_monotonic() {
        assert_eq!(preference_to_metric(i32::MAX), Some(0));
        assert_eq!(preference_to_metric(0), Some(0x7fff_ffff));
        assert_eq!(preference_to_metric(-1), Some(0x8000_0000));
        assert_eq!(preference_to_metric(i32::MIN + 1), Some(0xffff_fffe));
        assert_eq!(preference_to_metric(INELIGIBLE), None);
        let prefs = [i32::MIN + 1, -70000, -1, 0, 1, 99, i32::MAX];
        for w in prefs.windows(2) {
            assert!(preference_to_metric(w[0]) > preference_to_metric(w[1]));
        }
    }

    #[test]
    fn lifetime_refresh_update_withdraw_expire() {
        let mut h = Host::new(enabled());
        let t0 = s(100);
        h.rx(P0, R1, &advertisement(30, &[(R1, 0)]), t0);
        h.rx(P0, R2, &advertisement(60, &[(R2, -5)]), t0);
        assert_eq!(h.rd.next_deadline(), Some(t0 + s(30)));
        let v = h.routes.version();
        // Re-advertised with the same preference: only the deadline moves; the table is not
        // touched.
        h.rx(P0, R1, &advertisement(90, &[(R1, 0)]), t0 + s(20));
        assert_eq!(h.routes.version(), v);
        assert_eq!(h.rd.routers()[0].expires, t0 + s(110));
        assert_eq!(h.rd.stats().routers_refreshed, 1);
        h.rd.poll(t0 + s(30), &mut h.routes, &mut h.out);
        assert_eq!(h.default_gateways().len(), 2);
        // R2's lifetime ends at exactly t0 + 60 s.
        h.rd.poll(t0 + s(60) - Nanos(1), &mut h.routes, &mut h.out);
        assert_eq!(h.default_gateways().len(), 2);
        h.rd.poll(t0 + s(60), &mut h.routes, &mut h.out);
        assert_eq!(h.default_gateways(), [(R1, 0x7fff_ffff)]);
        assert_eq!(h.rd.stats().routers_expired, 1);
        // A preference change re-adds with the new metric.
        h.rx(P0, R1, &advertisement(30, &[(R1, 7)]), t0 + s(61));
        assert_eq!(h.default_gateways(), [(R1, 0x7fff_fff8)]);
        assert_eq!(h.rd.stats().routers_updated, 1);
        assert_eq!(h.rd.routers()[0].preference, 7);
        // Lifetime 0 withdraws at once; so does turning ineligible.
        h.rx(P0, R2, &advertisement(40, &[(R2, 1)]), t0 + s(62));
        h.rx(P0, R1, &advertisement(0, &[(R1, 7)]), t0 + s(63));
        assert_eq!(h.default_gateways(), [(R2, 0x7fff_fffe)]);
        h.rx(P0, R2, &advertisement(40, &[(R2, INELIGIBLE)]), t0 + s(64));
        assert!(h.default_gateways().is_empty());
        assert_eq!(h.rd.stats().routers_withdrawn, 2);
        assert!(h.rd.routers().is_empty());
        assert_eq!(h.rd.next_deadline(), None);
        // The connected routes are untouched throughout.
        assert_eq!(h.routes.routes().len(), 2);
    }

    #[test]
    fn limits_conflicts_and_stop() {
        let mut h = Host::new(RdiscConfig {
            max_routers: 2,
            ..enabled()
        });
        // A configured default through R3 on P0: the advertised one cannot be added beside it.
        h.routes.add(Route::via(Cidr::DEFAULT, R3, P0, 1)).unwrap();
        let t0 = s(1);
        let n = h.rx(
            P0,
            R1,
            &advertisement(600, &[(R1, 0), (R2, 0), (R3, 0)]),
            t0,
        );
        assert_eq!(n, 2);
        assert_eq!(h.rd.stats().entries_over_limit, 1);
        assert_eq!(h.rd.stats().route_errors, 0);
        h.rx(P0, R1, &advertisement(0, &[(R1, 0)]), t0);
        h.rx(P0, R1, &advertisement(600, &[(R3, 0)]), t0);
        assert_eq!(h.rd.stats().route_errors, 1);
        // Not an advertisement.
        let echo = Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: &[],
        };
        assert_eq!(
            h.rd.on_advertisement(P0, R1, &echo, &ours(), &mut h.routes, t0),
            0
        );
        assert_eq!(h.rd.stats().not_advertisement, 1);
        // The port goes down: its discovered routers go, the configured one stays.
        h.rd.stop(P0, &mut h.routes);
        assert_eq!(h.default_gateways(), [(R3, 1)]);
        assert!(h.rd.routers().is_empty());
    }

    #[test]
    fn disabled_by_default_does_nothing() {
        let mut h = Host::new(RdiscConfig::default());
        assert!(!h.rd.config().enabled);
        assert!(h.rd.groups().is_empty());
        h.rd.start(P0, s(1), &mut h.out);
        h.run(s(1), s(4));
        assert!(h.out.sent.is_empty());
        assert_eq!(h.rx(P0, R1, &advertisement(1800, &[(R1, 0)]), s(5)), 0);
        assert!(h.default_gateways().is_empty());
        assert_eq!(h.rd.stats().disabled, 1);
        assert_eq!(h.rd.stats().solicitations_sent, 0);
        assert_eq!(h.rd.next_deadline(), None);
    }
}
