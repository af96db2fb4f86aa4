//! ICMP router discovery, router side (RFC 1256 §4.1): periodic router advertisements on the
//! ports that enable them, and answers to solicitations.
//!
//! Each advertising port lists all of its addresses with the port's preference level and the
//! configured lifetime. Advertisements go to 224.0.0.1 (or 255.255.255.255 with
//! `broadcast`, RFC 1256's AdvertisementAddress) at random intervals between
//! `min_interval` and `max_interval`; the first [`MAX_INITIAL_ADVERTISEMENTS`] come at most
//! [`MAX_INITIAL_ADVERT_INTERVAL`] apart so that hosts starting with the router learn it
//! quickly. The first one goes out when the port starts.
//!
//! A solicitation is answered when its source is 0.0.0.0 or on a subnet of the receiving port
//! (others are discarded, §5.5). A host that named itself gets a unicast answer at once; a
//! solicitation from 0.0.0.0 moves the next multicast advertisement to a random moment within
//! [`MAX_RESPONSE_DELAY`], unless one is due sooner — so a burst of solicitations costs one
//! advertisement.
//!
//! Sans-IO like [`crate::rdisc`]: the driver calls [`Advertiser::start`], hands in
//! solicitations with [`Advertiser::on_solicitation`] and calls [`Advertiser::poll`] at
//! [`Advertiser::next_deadline`].

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_wire::icmpv4::{self, RouterEntries};
use burst_wire::ipv4::Cidr;
use tracing::{debug, info};

use crate::rdisc::{RdiscOutput, ALL_SYSTEMS};
use crate::PortId;

/// Advertisements sent at the shorter initial interval after a port starts (RFC 1256 §4.1).
pub const MAX_INITIAL_ADVERTISEMENTS: u8 = 3;
/// The longest interval between the initial advertisements (RFC 1256 §4.1: 16 s).
pub const MAX_INITIAL_ADVERT_INTERVAL: Nanos = Nanos::from_secs(16);
/// The longest delay before a multicast answer to a solicitation (RFC 1256 §4.1: 2 s).
pub const MAX_RESPONSE_DELAY: Nanos = Nanos::from_secs(2);
/// Most addresses listed in one advertisement (one port's addresses; RFC 1256 allows 255).
pub const MAX_ENTRIES: usize = 64;

/// Router-side tunables, shared by every advertising port (RFC 1256 §4.1's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertiseConfig {
    /// MaxAdvertisementInterval (4 s to 1800 s; RFC default 600 s).
    pub max_interval: Nanos,
    /// MinAdvertisementInterval (3 s to `max_interval`; RFC default 0.75 × max).
    pub min_interval: Nanos,
    /// AdvertisementLifetime, in the advertisements (`max_interval` to 9000 s; RFC default
    /// 3 × max).
    pub lifetime: Nanos,
    /// Advertise to 255.255.255.255 instead of 224.0.0.1.
    pub broadcast: bool,
}

impl Default for AdvertiseConfig {
    fn default() -> Self {
        AdvertiseConfig {
            max_interval: Nanos::from_secs(600),
            min_interval: Nanos::from_secs(450),
            lifetime: Nanos::from_secs(1800),
            broadcast: false,
        }
    }
}

/// Router-side counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdvertiseStats {
    /// Advertisements sent to the group (or broadcast): periodic and delayed answers.
    pub advertisements_sent: u64,
    /// Advertisements sent to a soliciting host directly.
    pub unicast_answers: u64,
    /// Solicitations received on an advertising port.
    pub solicitations_received: u64,
    /// Solicitations discarded: the source is neither 0.0.0.0 nor on the port's subnets.
    pub solicitations_off_subnet: u64,
    /// Solicitations received on a port that does not advertise.
    pub solicitations_not_advertising: u64,
}

/// One advertising port, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisingPort {
    /// The port.
    pub port: PortId,
    /// The addresses advertised.
    pub addrs: Vec<Ipv4Addr>,
    /// Their preference level.
    pub preference: i32,
    /// When the next advertisement goes out.
    pub next: Nanos,
    /// Advertisements sent from this port (periodic, delayed and unicast answers).
    pub sent: u64,
}

#[derive(Debug, Clone)]
struct PortState {
    port: PortId,
    subnets: Vec<Cidr>,
    preference: i32,
    next: Nanos,
    initial_left: u8,
    sent: u64,
}

/// The router's advertisement state (single owner: the control thread).
#[derive(Debug)]
pub struct Advertiser {
    cfg: AdvertiseConfig,
    ports: Vec<PortState>,
    rng: u64,
    stats: AdvertiseStats,
}

impl Advertiser {
    /// An advertiser with no port started; `seed` drives the random intervals.
    pub fn new(cfg: AdvertiseConfig, seed: u64) -> Advertiser {
        Advertiser {
            cfg,
            ports: Vec::new(),
            rng: seed | 1,
            stats: AdvertiseStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AdvertiseConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> AdvertiseStats {
        self.stats
    }

    /// Where advertisements go: 224.0.0.1, or 255.255.255.255 with `broadcast`.
    pub fn destination(&self) -> Ipv4Addr {
        if self.cfg.broadcast {
            Ipv4Addr::BROADCAST
        } else {
            ALL_SYSTEMS
        }
    }

    /// Whether `port` advertises.
    pub fn advertises(&self, port: PortId) -> bool {
        self.ports.iter().any(|p| p.port == port)
    }

    /// `port` becomes an advertising interface with `subnets` (its addresses) and
    /// `preference`: the first advertisement goes out now. Ports without addresses are
    /// ignored (nothing to advertise). Restarts the port's schedule if it was running.
    pub fn start<O: RdiscOutput>(
        &mut self,
        port: PortId,
        subnets: &[Cidr],
        preference: i32,
        now: Nanos,
        out: &mut O,
    ) {
        self.ports.retain(|p| p.port != port);
        if subnets.is_empty() {
            return;
        }
        info!(%port, preference, "router discovery: advertising");
        self.ports.push(PortState {
            port,
            subnets: subnets.iter().copied().take(MAX_ENTRIES).collect(),
            preference,
            next: now,
            initial_left: MAX_INITIAL_ADVERTISEMENTS,
            sent: 0,
        });
        self.poll(now, out);
    }

    /// A router solicitation received on `port` from `from`. Returns whether it was answered
    /// (at once or by moving the next advertisement closer).
    pub fn on_solicitation<O: RdiscOutput>(
        &mut self,
        port: PortId,
        from: Ipv4Addr,
        now: Nanos,
        out: &mut O,
    ) -> bool {
        let delay = self.random_below(MAX_RESPONSE_DELAY);
        let lifetime = self.lifetime_secs();
        let Some(p) = self.ports.iter_mut().find(|p| p.port == port) else {
            self.stats.solicitations_not_advertising += 1;
            return false;
        };
        self.stats.solicitations_received += 1;
        if from.is_unspecified() {
            // RFC 1256 §4.1: answer to the group within MAX_RESPONSE_DELAY, once for a burst.
            p.next = p.next.min(now + delay);
            debug!(%port, in_ns = delay.0, "router discovery: solicitation from 0.0.0.0");
            return true;
        }
        let on_subnet = p.subnets.iter().any(|c| {
            c.contains_addr(from)
                && from != c.address()
                && !c.is_network_address(from)
                && !c.is_directed_broadcast(from)
        });
        if !on_subnet {
            self.stats.solicitations_off_subnet += 1;
            debug!(%port, %from, "router discovery: solicitation from off the subnet discarded");
            return false;
        }
        advertise(p, from, lifetime, out);
        self.stats.unicast_answers += 1;
        debug!(%port, %from, "router discovery: solicitation answered");
        true
    }

    /// Sends the advertisements due at or before `now` and schedules the next ones.
    pub fn poll<O: RdiscOutput>(&mut self, now: Nanos, out: &mut O) {
        let dst = self.destination();
        let lifetime = self.lifetime_secs();
        for i in 0..self.ports.len() {
            if self.ports[i].next > now {
                continue;
            }
            let mut gap = self.random_between(self.cfg.min_interval, self.cfg.max_interval);
            let p = &mut self.ports[i];
            advertise(p, dst, lifetime, out);
            if p.initial_left > 0 {
                p.initial_left -= 1;
                gap = gap.min(MAX_INITIAL_ADVERT_INTERVAL);
            }
            p.next = now + gap;
            self.stats.advertisements_sent += 1;
        }
    }

    /// When [`poll`](Self::poll) has something to do next.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.ports.iter().map(|p| p.next).min()
    }

    /// `port` stops advertising: a last advertisement with lifetime 0 tells hosts to forget
    /// it (RFC 1256 §4.1). No-op for a port that does not advertise.
    pub fn stop<O: RdiscOutput>(&mut self, port: PortId, out: &mut O) {
        let dst = self.destination();
        if let Some(i) = self.ports.iter().position(|p| p.port == port) {
            let mut p = self.ports.swap_remove(i);
            advertise(&mut p, dst, 0, out);
            self.stats.advertisements_sent += 1;
            info!(%port, "router discovery: advertising stopped");
        }
    }

    /// The advertising ports, in port order.
    pub fn ports(&self) -> Vec<AdvertisingPort> {
        let mut v: Vec<AdvertisingPort> = self
            .ports
            .iter()
            .map(|p| AdvertisingPort {
                port: p.port,
                addrs: p.subnets.iter().map(|c| c.address()).collect(),
                preference: p.preference,
                next: p.next,
                sent: p.sent,
            })
            .collect();
        v.sort_by_key(|p| p.port);
        v
    }

    fn lifetime_secs(&self) -> u16 {
        (self.cfg.lifetime.0 / 1_000_000_000).min(u64::from(u16::MAX)) as u16
    }

    /// xorshift64*: deterministic for a seed, good enough to spread routers' timers.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn random_below(&mut self, limit: Nanos) -> Nanos {
        let l = limit.0;
        if l == 0 {
            return Nanos::ZERO;
        }
        Nanos(self.next_random() % l)
    }

    fn random_between(&mut self, lo: Nanos, hi: Nanos) -> Nanos {
        lo + self.random_below(hi.saturating_sub(lo) + Nanos(1))
    }
}

fn advertise<O: RdiscOutput>(p: &mut PortState, dst: Ipv4Addr, lifetime: u16, out: &mut O) {
    let mut entries = [(Ipv4Addr::UNSPECIFIED, 0i32); MAX_ENTRIES];
    let n = p.subnets.len();
    for (e, c) in entries.iter_mut().zip(&p.subnets) {
        *e = (c.address(), p.preference);
    }
    let mut buf = [0u8; MAX_ENTRIES * 8];
    let Ok(entries) = RouterEntries::encode(&mut buf, &entries[..n]) else {
        return;
    };
    out.send_icmp(
        p.port,
        dst,
        &icmpv4::Repr::RouterAdvertisement { lifetime, entries },
    );
    p.sent += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::icmpv4::{Packet, Repr};
    use burst_wire::ChecksumCheck;

    const P0: PortId = PortId(0);
    const P1: PortId = PortId(1);
    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const US2: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 1);
    const HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 20);

    fn subnets() -> Vec<Cidr> {
        vec![Cidr::new(US, 24).unwrap(), Cidr::new(US2, 24).unwrap()]
    }

    /// One advertisement sent, parsed back: (port, destination, lifetime, entries).
    type Sent = (PortId, Ipv4Addr, u16, Vec<(Ipv4Addr, i32)>);

    #[derive(Default)]
    struct Fake {
        sent: Vec<Sent>,
    }

    impl RdiscOutput for Fake {
        fn send_icmp(&mut self, port: PortId, dst: Ipv4Addr, repr: &Repr<'_>) {
            let mut buf = vec![0xa5u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            let Repr::RouterAdvertisement { lifetime, entries } =
                Repr::parse(&p, ChecksumCheck::Verify).unwrap()
            else {
                panic!("not an advertisement: {repr:?}");
            };
            self.sent
                .push((port, dst, lifetime, entries.into_iter().collect()));
        }
    }

    fn s(v: u64) -> Nanos {
        Nanos::from_secs(v)
    }

    #[test]
    fn first_advertisement_at_start_then_initial_then_periodic() {
        let cfg = AdvertiseConfig {
            max_interval: s(60),
            min_interval: s(45),
            lifetime: s(180),
            broadcast: false,
        };
        let mut a = Advertiser::new(cfg, 7);
        let mut out = Fake::default();
        a.start(P0, &subnets(), 5, Nanos::ZERO, &mut out);
        assert_eq!(
            out.sent,
            vec![(P0, ALL_SYSTEMS, 180, vec![(US, 5), (US2, 5)])],
            "the first advertisement goes out at start, listing every address"
        );
        // Poll every 100 ms for 10 minutes and record when they went out.
        let mut times = vec![Nanos::ZERO];
        let mut t = Nanos::ZERO;
        while t < s(600) {
            t += Nanos::from_millis(100);
            let before = out.sent.len();
            a.poll(t, &mut out);
            if out.sent.len() > before {
                times.push(t);
            }
        }
        let gaps: Vec<Nanos> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // The first three gaps are capped at 16 s; the rest lie in [45 s, 60 s].
        for g in &gaps[..3] {
            assert!(*g <= MAX_INITIAL_ADVERT_INTERVAL, "initial gap {g:?}");
        }
        for g in &gaps[3..] {
            assert!(
                *g >= s(45) && *g <= s(60) + Nanos::from_millis(100),
                "gap {g:?}"
            );
        }
        assert!(
            gaps.len() >= 3 + 9,
            "{} advertisements in 10 min",
            times.len()
        );
        assert_eq!(a.stats().advertisements_sent, times.len() as u64);
    }

    #[test]
    fn broadcast_and_no_addresses() {
        let mut a = Advertiser::new(
            AdvertiseConfig {
                broadcast: true,
                ..AdvertiseConfig::default()
            },
            1,
        );
        let mut out = Fake::default();
        a.start(P1, &[], 0, Nanos::ZERO, &mut out);
        assert!(
            out.sent.is_empty() && !a.advertises(P1),
            "no address, no advertisement"
        );
        a.start(P0, &subnets()[..1], -3, Nanos::ZERO, &mut out);
        assert_eq!(
            out.sent,
            vec![(P0, Ipv4Addr::BROADCAST, 1800, vec![(US, -3)])]
        );
    }

    #[test]
    fn solicitations_unicast_delayed_and_discarded() {
        let mut a = Advertiser::new(AdvertiseConfig::default(), 3);
        let mut out = Fake::default();
        a.start(P0, &subnets(), 0, Nanos::ZERO, &mut out);
        out.sent.clear();
        let t = s(1);
        // A host that names itself gets its answer at once, to itself.
        assert!(a.on_solicitation(P0, HOST, t, &mut out));
        assert_eq!(out.sent, vec![(P0, HOST, 1800, vec![(US, 0), (US2, 0)])]);
        // Off-subnet, our own address, the subnet's broadcast: discarded.
        for from in [
            Ipv4Addr::new(198, 19, 0, 1),
            US,
            Ipv4Addr::new(198, 18, 0, 255),
        ] {
            assert!(!a.on_solicitation(P0, from, t, &mut out), "{from}");
        }
        assert_eq!(a.stats().solicitations_off_subnet, 3);
        // Another port does not advertise.
        assert!(!a.on_solicitation(P1, HOST, t, &mut out));
        assert_eq!(a.stats().solicitations_not_advertising, 1);
        // From 0.0.0.0: one group advertisement within 2 s, however many solicitations.
        out.sent.clear();
        for _ in 0..10 {
            assert!(a.on_solicitation(P0, Ipv4Addr::UNSPECIFIED, t, &mut out));
        }
        assert!(a.next_deadline().unwrap() <= t + MAX_RESPONSE_DELAY);
        let mut now = t;
        while now <= t + MAX_RESPONSE_DELAY {
            a.poll(now, &mut out);
            now += Nanos::from_millis(10);
        }
        assert_eq!(out.sent.len(), 1, "{:?}", out.sent);
        assert_eq!(out.sent[0].1, ALL_SYSTEMS);
        assert_eq!(a.stats().unicast_answers, 1);
    }

    #[test]
    fn stop_sends_lifetime_zero() {
        let mut a = Advertiser::new(AdvertiseConfig::default(), 3);
        let mut out = Fake::default();
        a.start(P0, &subnets(), 9, Nanos::ZERO, &mut out);
        a.stop(P0, &mut out);
        assert_eq!(out.sent[1], (P0, ALL_SYSTEMS, 0, vec![(US, 9), (US2, 9)]));
        assert!(!a.advertises(P0) && a.next_deadline().is_none());
        a.stop(P0, &mut out);
        assert_eq!(out.sent.len(), 2);
    }

    #[test]
    fn same_seed_same_schedule() {
        let run = |seed| {
            let mut a = Advertiser::new(AdvertiseConfig::default(), seed);
            let mut out = Fake::default();
            a.start(P0, &subnets(), 0, Nanos::ZERO, &mut out);
            let mut v = vec![];
            for _ in 0..6 {
                let t = a.next_deadline().unwrap();
                v.push(t);
                a.poll(t, &mut out);
            }
            v
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12), "different routers spread their timers");
    }
}
