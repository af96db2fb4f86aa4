use super::*;
use burst_port::{Capabilities, PortInfo};

fn info(driver: &str, queues: u16, rss: bool) -> PortInfo {
    PortInfo {
        name: "p0".into(),
        driver: driver.into(),
        mac: MacAddr::new(2, 0, 0, 0, 0, 1),
        mtu: 1500,
        queues,
        caps: Capabilities {
            rss,
            ..Capabilities::NONE
        },
        rss_key: burst_port::rss::SYMMETRIC_KEY,
    }
}

#[test]
fn active_open_port_choice_per_port_kind() {
    let any = |r: ActiveOpenRss| matches!(r, ActiveOpenRss::Any);
    let toeplitz = |r: ActiveOpenRss| matches!(r, ActiveOpenRss::Toeplitz { .. });
    let steered = |r: ActiveOpenRss| matches!(r, ActiveOpenRss::Steered { workers: 2.. });
    // One worker: every flow is ours.
    assert!(any(active_open_rss(
        &[info("net_af_packet", 1, false)],
        1,
        0
    )));
    // Known key and RETA: Toeplitz on every worker.
    let nic = [info("net_ice", 4, true), info("net_ice", 4, true)];
    assert!(toeplitz(active_open_rss(&nic, 4, 3)));
    assert!(toeplitz(active_open_rss(&[info("mem", 3, true)], 3, 2)));
    // A hardware RETA over 3 queues: its size is unknown, so the queue is too: steered.
    assert!(steered(active_open_rss(&[info("net_ice", 3, true)], 3, 0)));
    // af_packet fanout (or a device key we do not know): ports owned by their worker.
    assert!(steered(active_open_rss(
        &[info("net_af_packet", 2, false)],
        2,
        0
    )));
    assert!(steered(active_open_rss(
        &[info("net_af_packet", 2, false)],
        2,
        1
    )));
    // A mem port without RSS delivers everything to queue 0: every worker, worker 0
    // included, takes its own ports (two workers must never pick the same 4-tuple).
    assert!(steered(active_open_rss(&[info("mem", 2, false)], 2, 0)));
    assert!(steered(active_open_rss(&[info("mem", 2, false)], 2, 1)));
    // Ports with different keys: not predictable.
    let mut other = info("mem", 2, true);
    other.rss_key = burst_port::rss::MICROSOFT_KEY;
    assert!(steered(active_open_rss(
        &[info("mem", 2, true), other],
        2,
        0
    )));
}

/// Every key `NodeConfig::from` reads, set to a value other than its default, arrives in
/// its field: a key parsed and then dropped on the way to the node fails here. (The
/// behaviour of each field is tested where the field is used; `docs/configuration.md`'s
/// keys and those tests are listed in `tests/documented_keys.rs`.)
#[test]
fn every_key_reaches_the_node_config() {
    use crate::config::Config;
    let base = "[backend]\nkind = \"mem\"\n[[port]]\nname = \"a\"\n\
        addresses = [\"198.18.1.254/24\"]\n[[port]]\nname = \"b\"\n\
        addresses = [\"198.18.2.254/24\"]\n";
    let d = NodeConfig::from(&Config::parse(base, "t.toml").unwrap());
    let text = "[backend]\nkind = \"mem\"\n\
        [eal]\ncores = 3\nmbufs = 4095\nmbuf_data_room = 4096\nidle_sleep = \"20us\"\n\
        [[port]]\nname = \"a\"\naddresses = [\"198.18.1.254/24\", \"198.18.9.1/24\"]\n\
        groups = [\"239.1.2.3\"]\npartial_checksums = false\n\
        [[port]]\nname = \"b\"\naddresses = [\"198.18.2.254/24\"]\n\
        [[route]]\nprefix = \"198.19.0.0/16\"\nvia = \"198.18.2.1\"\nmetric = 7\n\
        [[route]]\nprefix = \"198.18.200.0/24\"\nport = \"a\"\n\
        [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:00:09\"\nport = \"b\"\n\
        [arp_tunables]\ncache_life_unused = \"30s\"\ncache_life_max = \"1m\"\n\
        retry_count = 5\nretry_interval = \"200ms\"\npending_per_neighbor = 4\n\
        max_entries = 64\nduplicate_detection = false\n\
        [ipv4]\ndefault_ttl = 64\nmulticast_ttl = 8\naccept_source_route = true\n\
        forwarding = true\n\
        [icmp]\necho_rate_limit = 5\nerror_rate_limit = 7\nerror_burst = 3\n\
        accept_redirects = true\nredirect_lifetime = \"30s\"\nsend_redirects = false\n\
        [services]\necho = true\ndiscard = true\ndaytime = true\nqotd = true\n\
        chargen = true\nqotd_text = \"Q\"\n\
        [filtering]\ntcp_ports = [80]\nudp_ports = [7, 9]\nprotocols = [1, 6, 17]\n\
        [app]\nmax_timers = 16\nhandoff_queue = 8\n\
        [conntrack]\nmax_sessions = 99\n\
        [nat]\noutside = [\"b\"]\npool = [\"198.18.2.254\"]\n\
        [firewall]\nports = [\"b\"]\n";
    let n = NodeConfig::from(&Config::parse(text, "t.toml").unwrap());
    // [conntrack], [nat], [firewall]
    assert!(!d.firewall.enabled());
    assert_eq!(n.firewall.conntrack.max_sessions, 99);
    let (outside, nat) = n.firewall.nat.clone().unwrap();
    assert_eq!(
        (outside, nat.pool),
        (vec!["b".to_string()], vec![Ipv4Addr::new(198, 18, 2, 254)])
    );
    assert_eq!(n.firewall.ports, ["b"]);
    // [app]
    assert_eq!((d.app.max_timers, d.app.handoff_queue), (4096, 1024));
    assert_eq!((n.app.max_timers, n.app.handoff_queue), (16, 8));
    // [eal]
    assert_eq!((d.workers, n.workers), (1, 3));
    assert_eq!(
        (d.idle_sleep, n.idle_sleep),
        (Nanos(0), Nanos::from_micros(20))
    );
    assert_eq!(
        (d.buffers, n.buffers),
        (
            Some(Buffers {
                count: 16383,
                size: 2048 + 128
            }),
            Some(Buffers {
                count: 4095,
                size: 4096 + 128
            })
        )
    );
    // [[port]]
    assert_eq!(n.ports[0].name, "a");
    assert_eq!(n.ports[0].addrs.len(), 2);
    assert_eq!(n.ports[0].addrs[1], "198.18.9.1/24".parse().unwrap());
    assert_eq!(
        (d.ports[0].groups.clone(), n.ports[0].groups.clone()),
        (vec![], vec![Ipv4Addr::new(239, 1, 2, 3)])
    );
    assert_eq!(
        (d.ports[0].partial_checksums, n.ports[0].partial_checksums),
        (None, Some(false))
    );
    // [[route]]
    assert!(d.routes.is_empty());
    let r = n.routes[0];
    assert_eq!(
        (r.prefix, r.via, r.port, r.metric),
        (
            "198.19.0.0/16".parse().unwrap(),
            Some(Ipv4Addr::new(198, 18, 2, 1)),
            PortId(1),
            7
        )
    );
    let r = n.routes[1];
    assert_eq!((r.via, r.port, r.metric), (None, PortId(0), 1));
    // [[arp]]
    assert!(d.static_arp.is_empty());
    assert_eq!(
        n.static_arp,
        [(
            "b".to_string(),
            Ipv4Addr::new(198, 18, 2, 1),
            MacAddr::new(2, 0, 0, 0, 0, 9)
        )]
    );
    // [arp_tunables]
    let (da, a) = (&d.arp, &n.arp);
    assert_eq!(
        (da.cache_life_unused, a.cache_life_unused),
        (Nanos::from_secs(120), Nanos::from_secs(30))
    );
    assert_eq!(
        (da.cache_life_max, a.cache_life_max),
        (Nanos::from_secs(600), Nanos::from_secs(60))
    );
    assert_eq!((da.retry_count, a.retry_count), (3, 5));
    assert_eq!(
        (da.retry_interval, a.retry_interval),
        (Nanos::from_secs(1), Nanos::from_millis(200))
    );
    assert_eq!(
        (da.request_rate_limit, a.request_rate_limit),
        (Nanos::from_secs(1), Nanos::from_millis(200))
    );
    assert_eq!((da.pending_per_neighbor, a.pending_per_neighbor), (16, 4));
    assert_eq!((da.max_entries, a.max_entries), (4096, 64));
    assert_eq!(
        (da.duplicate_detection, a.duplicate_detection),
        (true, false)
    );
    // [ipv4]
    assert_eq!(d.ipv4, Ipv4Config::default());
    assert_eq!(
        n.ipv4,
        Ipv4Config {
            default_ttl: 64,
            multicast_ttl: 8,
            accept_source_route: true,
            forwarding: true,
        }
    );
    // [icmp]: the echo limit is also its burst; 0 means unlimited.
    assert_eq!(
        (d.icmp.echo_rate, d.icmp.error_rate, d.icmp.error_burst),
        (1000, 1000, 50)
    );
    assert_eq!(
        (
            n.icmp.echo_rate,
            n.icmp.echo_burst,
            n.icmp.error_rate,
            n.icmp.error_burst
        ),
        (5, 5, 7, 3)
    );
    let unlimited = NodeConfig::from(
        &Config::parse(
            &format!("{base}[icmp]\necho_rate_limit = 0\nerror_rate_limit = 0\n"),
            "t.toml",
        )
        .unwrap(),
    );
    let i = unlimited.icmp;
    assert!(
        i.echo_rate
            .min(i.echo_burst)
            .min(i.error_rate)
            .min(i.error_burst)
            > 1 << 30
    );
    // A host accepts redirects by default; a router only when told to.
    assert_eq!(
        (d.redirects.enabled, n.redirects.enabled),
        (true, true),
        "accept_redirects = true on a router"
    );
    assert_eq!(
        (d.redirects.lifetime, n.redirects.lifetime),
        (Nanos::from_secs(600), Nanos::from_secs(30))
    );
    assert_eq!((d.send_redirects, n.send_redirects), (true, false));
    // [services] (the UDP side; the TCP side is `config::node_tcp`'s test).
    use burst_stack::udp::Service;
    assert!(d.services.is_empty());
    assert_eq!(
        n.services,
        [
            Service::Echo,
            Service::Discard,
            Service::Daytime,
            Service::Qotd,
            Service::Chargen
        ]
    );
    assert_eq!(n.qotd, "Q");
    assert_ne!(d.qotd, "Q");
    // [filtering]
    assert_eq!(d.filtering, burst_stack::udp::Filtering::default());
    assert_eq!(
        n.filtering,
        burst_stack::udp::Filtering {
            tcp_ports: Some(vec![80]),
            udp_ports: Some(vec![7, 9]),
            protocols: Some(vec![1, 6, 17]),
        }
    );
}

/// The spawned worker loop with `idle_sleep` (`[eal] idle_sleep`): a node with no ports has
/// nothing to do in any round, so with a sleep every round ends in one (counted in
/// `rt.idle_sleeps`) and without one the worker spins and counts none. Real threads and
/// time; every wait is bounded by a deadline.
#[test]
fn idle_sleep_makes_an_idle_worker_sleep() {
    use burst_port::clock::MonotonicClock;
    use burst_port::mem::MemPort;
    use std::time::Instant;

    fn run(idle_sleep: Nanos) -> (u64, u64) {
        let cfg = NodeConfig {
            idle_sleep,
            ..NodeConfig::default()
        };
        let node = Node::build(&cfg, Vec::<MemPort>::new(), Nanos(0)).unwrap();
        let shared = node.workers[0].shared_stats();
        let stop = Arc::new(AtomicBool::new(false));
        let handles = node.spawn(MonotonicClock::default(), stop.clone()).unwrap();
        let get = |name: &str| {
            shared
                .snapshot()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no counter {name}"))
        };
        // Published every 50 ms of the clock: wait for a count that needs several rounds.
        let deadline = Instant::now() + Duration::from_secs(30);
        while get("rt.polls") < 20 {
            assert!(
                Instant::now() < deadline,
                "the worker published fewer than 20 polls in 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Release);
        for h in handles {
            h.join().unwrap();
        }
        (get("rt.idle_polls"), get("rt.idle_sleeps"))
    }

    let (idle, sleeps) = run(Nanos::from_micros(100));
    assert!(idle >= 20, "{idle} idle polls");
    // Every idle round sleeps (the last one published may precede its sleep).
    assert!(
        sleeps + 1 >= idle && sleeps > 0,
        "{sleeps} sleeps for {idle} idle polls"
    );
    let (idle, sleeps) = run(Nanos(0));
    assert!(idle >= 20, "{idle} idle polls");
    assert_eq!(sleeps, 0, "a spinning worker does not sleep");
}
