//! The packet filter table through ctl requests and from the configuration; ctl stats.

use crate::lab::*;

/// The packet filter table through the control socket's requests: configured rules, add (append
/// and insert), list with hit counts, delete, and every error an operator can make.
#[test]
fn filter_rules_through_ctl_requests() {
    let configured = vec![(
        "p0".to_string(),
        Direction::In,
        "--proto tcp --flags syn count".parse::<Rule>().unwrap(),
    )];
    let mut l = lab_filters(
        PeerMode::default(),
        2,
        Default::default(),
        vec![],
        configured,
    );
    let ask = |l: &mut Lab, req: Request| -> Response {
        let rx = l.request(req);
        l.run_for(STEP);
        rx.try_recv().unwrap()
    };
    let add = |port: &str, dir: &str, rule: &str, index: Option<usize>| Request::FilterAdd {
        port: port.into(),
        dir: dir.into(),
        rule: rule.into(),
        index,
    };
    let list = |l: &mut Lab| -> Vec<(String, String, usize, String, u64)> {
        match ask(l, Request::FilterList) {
            Response::Filters { rules } => rules
                .into_iter()
                .map(|r| (r.port, r.dir, r.index, r.rule, r.hits))
                .collect(),
            r => panic!("{r:?}"),
        }
    };
    let row = |dir: &str, index: usize, rule: &str, hits: u64| {
        (
            "p0".to_string(),
            dir.to_string(),
            index,
            rule.to_string(),
            hits,
        )
    };
    assert_eq!(
        list(&mut l),
        [row("in", 0, "--proto tcp --flags syn count", 0)]
    );
    assert_eq!(
        ask(
            &mut l,
            add(
                "p0",
                "in",
                "--dport 80 --proto 6 --dst 198.18.0.9/24 deny",
                None
            )
        ),
        Response::FilterAdded {
            index: 1,
            rule: "--dst 198.18.0.0/24 --proto tcp --dport 80 deny".into()
        }
    );
    assert_eq!(
        ask(&mut l, add("p0", "in", "--src 198.18.0.1 permit", Some(0))),
        Response::FilterAdded {
            index: 0,
            rule: "--src 198.18.0.1/32 permit".into()
        }
    );
    assert_eq!(
        ask(
            &mut l,
            add("p0", "out", "--proto udp --sport 1000-2000 count", None)
        ),
        Response::FilterAdded {
            index: 0,
            rule: "--proto udp --sport 1000-2000 count".into()
        }
    );

    // Hits: what the workers' readers count shows in the list (summed over both workers).
    let syn = {
        let t = burst_wire::tcp::Repr {
            src_port: 40000,
            dst_port: 80,
            seq: burst_wire::tcp::SeqNumber(1),
            ack_number: burst_wire::tcp::SeqNumber(0),
            flags: burst_wire::tcp::Flags::SYN,
            reserved: 0,
            window: 1024,
            urgent: 0,
            options: burst_wire::tcp::Options::EMPTY,
            payload_len: 0,
        };
        let src = Ipv4Addr::new(198, 18, 0, 77);
        let ip = ipv4::Repr::new(src, NODE_IP, Protocol::TCP, t.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        t.emit(
            &mut burst_wire::tcp::Packet::new_unchecked(&mut d[20..]),
            src,
            NODE_IP,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let reader = l.node.control.filters().reader();
    for worker in [0, 1] {
        let g = reader.domain().pin();
        assert!(reader.is_active(PortId(0), Direction::In, &g));
        let v = reader.evaluate(PortId(0), Direction::In, &syn, worker, &g);
        assert_eq!((v.permit, v.rule), (false, Some(2)), "counted, then denied");
    }
    assert_eq!(
        list(&mut l),
        [
            row("in", 0, "--src 198.18.0.1/32 permit", 0),
            row("in", 1, "--proto tcp --flags syn count", 2),
            row(
                "in",
                2,
                "--dst 198.18.0.0/24 --proto tcp --dport 80 deny",
                2
            ),
            row("out", 0, "--proto udp --sport 1000-2000 count", 0),
        ]
    );

    // Errors, each leaving the table as it was.
    let err = |l: &mut Lab, req: Request| match ask(l, req) {
        Response::Error { message } => message,
        r => panic!("{r:?}"),
    };
    assert_eq!(
        err(&mut l, add("p9", "in", "deny", None)),
        "no port named p9"
    );
    assert_eq!(
        err(&mut l, add("p0", "both", "deny", None)),
        "bad direction both (expected in or out)"
    );
    assert_eq!(
        err(&mut l, add("p0", "in", "--dport 10-5 deny", None)),
        "port range 10-5 is reversed"
    );
    assert_eq!(
        err(&mut l, add("p0", "in", "--proto tcp", None)),
        "missing action (permit, deny or count)"
    );
    assert!(err(&mut l, add("p0", "in", "--foo 1 deny", None)).starts_with("unknown option --foo"));
    assert_eq!(
        err(&mut l, add("p0", "out", "deny", Some(2))),
        "port p0 out has no rule at index 2 (it has 1 rule)"
    );
    let del = |dir: &str, index: usize| Request::FilterDelete {
        port: "p0".into(),
        dir: dir.into(),
        index,
    };
    assert_eq!(
        err(&mut l, del("in", 3)),
        "port p0 in has no rule at index 3 (it has 3 rules)"
    );
    assert_eq!(
        err(
            &mut l,
            Request::FilterDelete {
                port: "p7".into(),
                dir: "in".into(),
                index: 0
            }
        ),
        "no port named p7"
    );
    assert_eq!(list(&mut l).len(), 4);

    // Delete: later rules move up and keep their hits.
    assert_eq!(
        ask(&mut l, del("in", 0)),
        Response::FilterDeleted {
            rule: "--src 198.18.0.1/32 permit".into()
        }
    );
    assert_eq!(
        ask(&mut l, del("out", 0)),
        Response::FilterDeleted {
            rule: "--proto udp --sport 1000-2000 count".into()
        }
    );
    assert_eq!(
        list(&mut l),
        [
            row("in", 0, "--proto tcp --flags syn count", 2),
            row(
                "in",
                1,
                "--dst 198.18.0.0/24 --proto tcp --dport 80 deny",
                2
            ),
        ]
    );
    let g = reader.domain().pin();
    assert!(!reader.is_active(PortId(0), Direction::Out, &g));
    drop(g);
    l.finish();
}

#[test]
fn configured_filters_reach_the_node() {
    let text = "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
        [[filter]]\nport = \"p0\"\ndirection = \"out\"\nproto = \"udp\"\ndport = \"5000-5010\"\naction = \"deny\"\n";
    let c = burst_runtime::config::Config::parse(text, "t.toml").unwrap();
    let n = NodeConfig::from(&c);
    assert_eq!(
        n.filters,
        [(
            "p0".to_string(),
            Direction::Out,
            "--proto udp --dport 5000-5010 deny"
                .parse::<Rule>()
                .unwrap()
        )]
    );
    // A rule for a port the node does not have is refused at build time.
    let clock = VirtualClock::new();
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(64, burst_port::mem::DEFAULT_BUF_SIZE);
    let port = MemPort::new(&wire, &pool, MemPortConfig::new("p0", NODE_MAC));
    let mut bad = n.clone();
    bad.filters[0].0 = "p3".into();
    let e = Node::build(&bad, vec![port], clock.now()).err().unwrap();
    assert_eq!(
        e,
        "filter out --proto udp --dport 5000-5010 deny: no port named p3"
    );
    // The refused build dropped the port it was given: nothing was taken from the pool.
    assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
}

/// `ctl stats` reports a registered pool's occupancy (`pool`: size, in_use, available), read
/// when asked: buffers held by the test show up, and come back.
#[test]
fn ctl_stats_shows_the_pool_occupancy() {
    let mut l = lab(PeerMode::default(), 1);
    l.node.control.add_pool(
        "pool",
        burst_runtime::control::PoolFigures::mem_reader(&l.pool),
    );
    let held: Vec<_> = (0..5).map(|_| l.pool.alloc().unwrap()).collect();
    let pool_figures = |l: &mut Lab| -> Vec<(String, u64)> {
        let rx = l.request(Request::Stats);
        l.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Stats { groups } => groups
                .into_iter()
                .find(|g| g.title == "pool")
                .expect("a pool section")
                .counters
                .into_iter()
                .map(|c| (c.name, c.value))
                .collect(),
            r => panic!("{r:?}"),
        }
    };
    let f = pool_figures(&mut l);
    let get = |f: &[(String, u64)], k: &str| f.iter().find(|(n, _)| n == k).unwrap().1;
    assert_eq!(get(&f, "size"), 4096);
    assert!(get(&f, "in_use") >= 5, "{f:?}");
    assert_eq!(get(&f, "in_use") + get(&f, "available"), 4096);
    drop(held);
    let f = pool_figures(&mut l);
    assert_eq!(get(&f, "in_use"), l.pool.in_use() as u64);
    assert_eq!(get(&f, "in_use") + get(&f, "available"), 4096);
    l.finish();
}
