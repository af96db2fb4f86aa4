//! Router discovery (RFC 1256) on the router lab (two ports, hosts A and B, the in-memory wire,
//! virtual clock): the host side solicits at start and installs default routes from
//! advertisements with their preference and lifetime; the router side advertises on the ports
//! that enable it and answers solicitations. Each setting is changed and seen in behaviour.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{EchoOutcome, RdiscStatus, Request, Response, RouteEntry};
use burst_runtime::node::NodeConfig;
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use burst_wire::icmpv4::{self, RouterEntries};
use burst_wire::ipv4;
use common::router_lab::*;

const R_B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);
/// A second router on A's link (the lab has a static ARP entry for it).
const R2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 77);
const R2_MAC: MacAddr = MacAddr::new(2, 0, 0, 0, 0xa, 77);
const FAR: Ipv4Addr = Ipv4Addr::new(198, 19, 3, 4);

/// Router discovery messages host `h` saw since the lab started: (source MAC, destination
/// MAC, IPv4 source, IPv4 destination, TTL, ICMP bytes).
type Seen = (MacAddr, MacAddr, Ipv4Addr, Ipv4Addr, u8, Vec<u8>);

fn rdisc_seen(l: &Lab, h: usize, all: bool) -> Vec<Seen> {
    let frames = if all { &l.seen_all[h] } else { &l.seen[h] };
    frames
        .iter()
        .filter_map(|f| {
            let e = burst_wire::ethernet::Frame::new_checked(&f[..]).ok()?;
            let p = ipv4::Packet::new_checked(e.payload()).ok()?;
            if p.protocol() != ipv4::Protocol::ICMP {
                return None;
            }
            let m = p.payload();
            // Types 9 (advertisement) and 10 (solicitation).
            (m[0] == 9 || m[0] == 10).then(|| {
                (
                    e.src_addr(),
                    e.dst_addr(),
                    p.src_addr(),
                    p.dst_addr(),
                    p.ttl(),
                    m.to_vec(),
                )
            })
        })
        .collect()
}

/// An ICMP message from `src` (MAC `mac`) to `dst` on host `h`'s link, TTL 1.
fn send_icmp(
    l: &mut Lab,
    h: usize,
    mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    msg: &icmpv4::Repr<'_>,
) {
    let mut d = vec![0u8; 20 + msg.buffer_len()];
    burst_stack::icmp::emit(msg, src, dst, 1, false, &mut d);
    let to = MacAddr::from_ipv4_multicast(dst).unwrap_or(if dst.is_broadcast() {
        MacAddr::BROADCAST
    } else {
        [R_A, R_B][h]
    });
    l.send(h, &frame(mac, to, &d));
}

/// An advertisement from `router` (MAC `mac`) on host `h`'s link.
fn advertise(
    l: &mut Lab,
    h: usize,
    mac: MacAddr,
    router: Ipv4Addr,
    lifetime: u16,
    entries: &[(Ipv4Addr, i32)],
) {
    let mut eb = vec![0u8; entries.len() * 8];
    let m = icmpv4::Repr::RouterAdvertisement {
        lifetime,
        entries: RouterEntries::encode(&mut eb, entries).unwrap(),
    };
    send_icmp(l, h, mac, router, Ipv4Addr::new(224, 0, 0, 1), &m);
}

fn routes(l: &mut Lab) -> Vec<RouteEntry> {
    let rx = l.request(Request::RoutePrint);
    l.run_for(STEP);
    match rx.try_recv().unwrap() {
        Response::Routes { routes } => routes,
        r => panic!("{r:?}"),
    }
}

/// The default routes: (gateway, metric, kind, preference).
fn defaults(l: &mut Lab) -> Vec<(String, u32, String, Option<i32>)> {
    routes(l)
        .into_iter()
        .filter(|r| r.network == Ipv4Addr::UNSPECIFIED && r.netmask == Ipv4Addr::UNSPECIFIED)
        .map(|r| (r.gateway, r.metric, r.kind, r.preference))
        .collect()
}

fn status(l: &mut Lab) -> RdiscStatus {
    let rx = l.request(Request::Rdisc);
    l.run_for(STEP);
    match rx.try_recv().unwrap() {
        Response::Rdisc(s) => s,
        r => panic!("{r:?}"),
    }
}

/// A host (no forwarding, no static routes) with router discovery on.
fn host_on(c: &mut NodeConfig) {
    c.ipv4.forwarding = false;
    c.routes.clear();
    c.rdisc.host.enabled = true;
}

fn host(tweak: fn(&mut NodeConfig)) -> Lab {
    lab(Opts {
        tweak,
        ..Opts::default()
    })
}

/// The echo request the node sent for `ctl ping FAR`, and the MAC it went to (A's link).
fn ping_far_next_hop(l: &mut Lab) -> Option<MacAddr> {
    l.seen = [Vec::new(), Vec::new()];
    let rx = l.request(Request::Ping {
        dst: FAR,
        count: 1,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 100,
        interval_ms: 100,
    });
    l.run_for(Nanos::from_millis(300));
    let mut failed = false;
    while let Ok(r) = rx.try_recv() {
        if let Response::Echo {
            outcome: EchoOutcome::Failed { .. },
            ..
        } = r
        {
            failed = true;
        }
    }
    let hop = l
        .ipv4_seen(0)
        .into_iter()
        .chain(l.ipv4_seen(1))
        .find_map(|(_, dmac, d)| {
            let p = ipv4::Packet::new_checked(&d[..]).ok()?;
            (p.dst_addr() == FAR).then_some(dmac)
        });
    assert!(
        failed || hop.is_some(),
        "the ping neither failed nor went out"
    );
    hop
}

#[test]
fn a_host_solicits_at_start_three_times_600ms_apart_to_all_routers() {
    let l = host(host_on);
    for (h, src) in [(0, R_A_IP), (1, R_B_IP)] {
        let s = rdisc_seen(&l, h, true);
        assert_eq!(s.len(), 3, "port {h}: {s:?}");
        for (smac, dmac, ip_src, ip_dst, ttl, m) in &s {
            assert_eq!(*smac, [R_A, R_B][h]);
            assert_eq!(
                *dmac,
                MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 2)).unwrap()
            );
            assert_eq!(
                (*ip_src, *ip_dst, *ttl),
                (src, Ipv4Addr::new(224, 0, 0, 2), 1)
            );
            assert_eq!(icmp(m), icmpv4::Repr::RouterSolicitation);
        }
    }
    l.finish();
    // Broadcast solicitations, one of them: SolicitationAddressBCast.
    let l = host(|c| {
        host_on(c);
        c.rdisc.host.solicitation_address_broadcast = true;
        c.rdisc.host.solicitations = 1;
    });
    let s = rdisc_seen(&l, 0, true);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!((s[0].1, s[0].3), (MacAddr::BROADCAST, Ipv4Addr::BROADCAST));
    l.finish();
    // Off (the default): no solicitation.
    let l = host(|c| {
        c.ipv4.forwarding = false;
    });
    assert!(rdisc_seen(&l, 0, true).is_empty());
    l.finish();
}

#[test]
fn solicitation_interval_spaces_the_solicitations() {
    // The lab runs 3.5 s before the test sees it: 3 solicitations 2 s apart means 2 by then.
    let l = host(|c| {
        host_on(c);
        c.rdisc.host.interval = Nanos::from_secs(2);
    });
    assert_eq!(rdisc_seen(&l, 0, true).len(), 2);
    l.finish();
}

#[test]
fn advertisements_install_default_routes_by_preference_for_their_lifetime() {
    let mut l = host(host_on);
    assert!(
        defaults(&mut l).is_empty(),
        "no default route before an advertisement"
    );
    assert_eq!(ping_far_next_hop(&mut l), None, "no route to a far host");
    // B advertises itself with preference 5 for 30 s; R2 on A's link with preference 10.
    advertise(&mut l, 1, B_MAC, B, 30, &[(B, 5)]);
    advertise(&mut l, 0, R2_MAC, R2, 1800, &[(R2, 10)]);
    l.run_for(Nanos::from_millis(50));
    let d = defaults(&mut l);
    assert_eq!(
        d,
        vec![
            (
                "198.18.1.77".into(),
                0x7fff_ffff - 10,
                "router-discovery".into(),
                Some(10)
            ),
            (
                "198.18.2.1".into(),
                0x7fff_ffff - 5,
                "router-discovery".into(),
                Some(5)
            ),
        ],
        "{d:?}"
    );
    // Traffic to a far host goes to the preferred router.
    assert_eq!(ping_far_next_hop(&mut l), Some(R2_MAC));
    let s = status(&mut l);
    assert!(s.host_enabled);
    assert_eq!(s.routers.len(), 2);
    assert_eq!((s.routers[1].router, s.routers[1].preference), (B, 5));
    assert!(
        (28..=30).contains(&s.routers[1].expires_in_s),
        "{:?}",
        s.routers[1]
    );
    // R2 withdraws (lifetime 0): B takes over.
    advertise(&mut l, 0, R2_MAC, R2, 0, &[(R2, 10)]);
    l.run_for(Nanos::from_millis(50));
    assert_eq!(ping_far_next_hop(&mut l), Some(B_MAC));
    // B's lifetime ends at 30 s: no default route any more.
    l.run_for(Nanos::from_secs(30));
    assert!(defaults(&mut l).is_empty(), "{:?}", defaults(&mut l));
    // An advertisement for an address off the receiving port's subnets is ignored.
    advertise(
        &mut l,
        1,
        B_MAC,
        B,
        1800,
        &[(Ipv4Addr::new(198, 18, 1, 9), 100)],
    );
    l.run_for(Nanos::from_millis(50));
    assert!(defaults(&mut l).is_empty());
    let icmp_in: u64 = l
        .node
        .workers
        .iter()
        .map(|w| w.icmp.in_router_advertisements)
        .sum();
    assert_eq!(icmp_in, 4);
    l.finish();
}

#[test]
fn advertisements_are_ignored_when_router_discovery_is_off() {
    let mut l = host(|c| {
        c.ipv4.forwarding = false;
        c.routes.clear();
    });
    advertise(&mut l, 1, B_MAC, B, 1800, &[(B, 5)]);
    l.run_for(Nanos::from_millis(50));
    assert!(defaults(&mut l).is_empty());
    assert!(!status(&mut l).host_enabled);
    l.finish();
}

#[test]
fn max_routers_caps_the_routers_learned() {
    let mut l = host(|c| {
        host_on(c);
        c.rdisc.host.max_routers = 1;
    });
    advertise(&mut l, 1, B_MAC, B, 1800, &[(B, 5)]);
    advertise(&mut l, 0, R2_MAC, R2, 1800, &[(R2, 10)]);
    l.run_for(Nanos::from_millis(50));
    assert_eq!(defaults(&mut l).len(), 1);
    l.finish();
}

/// The router lab advertising on port b (preference 7), every 4 to 10 s, lifetime 30 s.
fn advertising(c: &mut NodeConfig) {
    c.rdisc.ports = vec![(PortId(1), 7)];
    c.rdisc.advertise = burst_stack::radv::AdvertiseConfig {
        max_interval: Nanos::from_secs(10),
        min_interval: Nanos::from_secs(4),
        lifetime: Nanos::from_secs(30),
        broadcast: false,
    };
}

fn advertisements(l: &Lab, h: usize, all: bool) -> Vec<Seen> {
    rdisc_seen(l, h, all)
        .into_iter()
        .filter(|s| s.5[0] == 9)
        .collect()
}

#[test]
fn a_router_advertises_on_the_ports_that_enable_it() {
    let mut l = host(advertising);
    // The first advertisement went out at start, on port b only.
    let a = advertisements(&l, 1, true);
    assert!(!a.is_empty());
    let (smac, dmac, src, dst, ttl, m) = &a[0];
    assert_eq!(
        (*smac, *src, *dst, *ttl),
        (R_B, R_B_IP, Ipv4Addr::new(224, 0, 0, 1), 1)
    );
    assert_eq!(
        *dmac,
        MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1)).unwrap()
    );
    let icmpv4::Repr::RouterAdvertisement { lifetime, entries } = icmp(m) else {
        panic!("{m:?}");
    };
    assert_eq!(lifetime, 30);
    assert_eq!(entries.iter().collect::<Vec<_>>(), vec![(R_B_IP, 7)]);
    assert!(
        advertisements(&l, 0, true).is_empty(),
        "port a does not advertise"
    );
    // Over two minutes: initial ones at most 10 s apart (the interval caps 16 s), then one
    // every 4..10 s.
    l.seen = [Vec::new(), Vec::new()];
    l.run_for(Nanos::from_secs(120));
    let n = advertisements(&l, 1, false).len();
    assert!((12..=31).contains(&n), "{n} advertisements in 120 s");
    let s = status(&mut l);
    assert_eq!(s.advertising.len(), 1);
    assert_eq!(
        (
            s.advertising[0].port.as_str(),
            s.advertising[0].preference,
            s.advertising[0].lifetime_s
        ),
        ("b", 7, 30)
    );
    assert_eq!(s.advertisement_destination, Ipv4Addr::new(224, 0, 0, 1));
    // Stopping sends a last advertisement with lifetime 0.
    l.seen = [Vec::new(), Vec::new()];
    l.node.control.stop_rdisc();
    l.run_for(STEP);
    let a = advertisements(&l, 1, false);
    assert_eq!(a.len(), 1);
    assert!(matches!(
        icmp(&a[0].5),
        icmpv4::Repr::RouterAdvertisement { lifetime: 0, .. }
    ));
    l.finish();
}

#[test]
fn a_router_answers_solicitations() {
    let mut l = host(advertising);
    l.seen = [Vec::new(), Vec::new()];
    let all_routers = Ipv4Addr::new(224, 0, 0, 2);
    // B names itself: answered at once, to B.
    send_icmp(
        &mut l,
        1,
        B_MAC,
        B,
        all_routers,
        &icmpv4::Repr::RouterSolicitation,
    );
    l.run_for(Nanos::from_millis(30));
    let a = advertisements(&l, 1, false);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!((a[0].1, a[0].3), (B_MAC, B), "a unicast answer");
    // From 0.0.0.0, ten times: one advertisement to the group within 2 s.
    l.seen = [Vec::new(), Vec::new()];
    for _ in 0..10 {
        send_icmp(
            &mut l,
            1,
            B_MAC,
            Ipv4Addr::UNSPECIFIED,
            all_routers,
            &icmpv4::Repr::RouterSolicitation,
        );
    }
    l.run_for(Nanos::from_millis(2100));
    let a = advertisements(&l, 1, false);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].3, Ipv4Addr::new(224, 0, 0, 1));
    // On port a, which does not advertise, nothing answers (224.0.0.2 is not joined there).
    l.seen = [Vec::new(), Vec::new()];
    send_icmp(
        &mut l,
        0,
        A_MAC,
        A,
        all_routers,
        &icmpv4::Repr::RouterSolicitation,
    );
    l.run_for(Nanos::from_millis(2100));
    assert!(advertisements(&l, 0, false).is_empty());
    let solicitations: u64 = l
        .node
        .workers
        .iter()
        .map(|w| w.icmp.in_router_solicitations)
        .sum();
    assert_eq!(solicitations, 11);
    l.finish();
}

#[test]
fn advertisements_can_be_broadcast() {
    let l = host(|c| {
        advertising(c);
        c.rdisc.advertise.broadcast = true;
    });
    let a = advertisements(&l, 1, true);
    assert_eq!((a[0].1, a[0].3), (MacAddr::BROADCAST, Ipv4Addr::BROADCAST));
    l.finish();
}

#[test]
fn the_configuration_reaches_router_discovery() {
    let text = "[eal]\ncores = 1\n[ipv4]\nforwarding = true\n\
        [router_discovery]\nenabled = true\nsolicitations = 2\nsolicitation_interval = \"1s\"\n\
        solicitation_broadcast = true\nmax_routers = 4\nadvertise_interval = \"20s\"\n\
        advertise_broadcast = true\n\
        [[port]]\nname = \"a\"\ndevice = \"net_null0\"\naddresses = [\"198.18.1.254/24\"]\n\
        router_advertisements = true\nrouter_preference = -5\n\
        [[port]]\nname = \"b\"\ndevice = \"net_null1\"\naddresses = [\"198.18.2.254/24\"]\n";
    let c = burst_runtime::config::Config::parse(text, "t.toml").unwrap();
    let n = NodeConfig::from(&c);
    assert_eq!(
        n.rdisc.host,
        burst_stack::rdisc::RdiscConfig {
            enabled: true,
            solicitations: 2,
            interval: Nanos::from_secs(1),
            solicitation_address_broadcast: true,
            max_routers: 4,
        }
    );
    assert_eq!(
        n.rdisc.advertise,
        burst_stack::radv::AdvertiseConfig {
            max_interval: Nanos::from_secs(20),
            min_interval: Nanos::from_secs(15),
            lifetime: Nanos::from_secs(60),
            broadcast: true,
        },
        "auto: min 0.75 x, lifetime 3 x the interval"
    );
    assert_eq!(n.rdisc.ports, vec![(PortId(0), -5)]);
    // Explicit min interval and lifetime.
    let t2 = text.replace(
        "advertise_broadcast = true\n",
        "advertise_broadcast = true\nmin_advertise_interval = \"5s\"\nadvertise_lifetime = \"40s\"\n",
    );
    let a = NodeConfig::from(&burst_runtime::config::Config::parse(&t2, "t.toml").unwrap())
        .rdisc
        .advertise;
    assert_eq!(
        (a.min_interval, a.lifetime),
        (Nanos::from_secs(5), Nanos::from_secs(40))
    );
    // Clear errors.
    for (from, to, key) in [
        (
            "forwarding = true",
            "forwarding = false",
            "port[0].router_advertisements",
        ),
        (
            "advertise_interval = \"20s\"",
            "advertise_interval = \"2s\"",
            "router_discovery.advertise_interval",
        ),
        (
            "advertise_broadcast = true\n",
            "advertise_broadcast = true\nadvertise_lifetime = \"10s\"\n",
            "router_discovery.advertise_lifetime",
        ),
        (
            "advertise_broadcast = true\n",
            "advertise_broadcast = true\nmin_advertise_interval = \"30s\"\n",
            "router_discovery.min_advertise_interval",
        ),
    ] {
        let e =
            burst_runtime::config::Config::parse(&text.replace(from, to), "t.toml").unwrap_err();
        assert_eq!(e.key, key, "{e}");
    }
}

/// Gaps (ms) between the advertisements port b sent over two minutes, on the router lab
/// configured by `tweak`.
fn advertisement_gaps(tweak: fn(&mut NodeConfig)) -> Vec<u64> {
    let mut l = host(tweak);
    let mut times = Vec::new();
    let start = l.now();
    // Those sent while the lab started are not timed.
    let mut seen = advertisements(&l, 1, true).len();
    while l.now() < start + Nanos::from_secs(120) {
        l.run_for(Nanos::from_millis(100));
        while seen < advertisements(&l, 1, true).len() {
            seen += 1;
            times.push(l.now().as_millis());
        }
    }
    l.finish();
    assert!(times.len() > 10, "{times:?}");
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// `[router_discovery] min_advertise_interval`: each interval is random between it and
/// `advertise_interval`; "auto" is 0.75 × `advertise_interval`.
#[test]
fn min_advertise_interval_is_the_shortest_gap() {
    fn file(c: &mut NodeConfig, min: &str) {
        let f = from_file(&format!(
            "[ipv4]\nforwarding = true\n[router_discovery]\nadvertise_interval = \"10s\"\n{min}"
        ));
        c.rdisc.advertise = f.rdisc.advertise;
        c.rdisc.ports = vec![(PortId(1), 0)];
    }
    // Seen to the 100 ms the lab runs in.
    let gaps = advertisement_gaps(|c| file(c, "min_advertise_interval = \"10s\"\n"));
    assert!(
        gaps.iter().all(|g| (9_900..=10_100).contains(g)),
        "{gaps:?}"
    );
    let gaps = advertisement_gaps(|c| file(c, ""));
    assert!(gaps.iter().all(|g| *g >= 7_400), "auto: {gaps:?}");
    let gaps = advertisement_gaps(|c| file(c, "min_advertise_interval = \"4s\"\n"));
    assert!(gaps.iter().all(|g| *g >= 3_900), "{gaps:?}");
    assert!(gaps.iter().any(|g| *g < 7_400), "{gaps:?}");
}
