use super::*;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);

fn t(proto: u8, sport: u16, dport: u16) -> Tuple {
    Tuple {
        src: A,
        dst: B,
        sport,
        dport,
        proto,
        zone: 0,
    }
}

fn table(n: usize) -> Conntrack {
    Conntrack::new(
        ConntrackConfig {
            max_sessions: n,
            ..Default::default()
        },
        7,
    )
}

fn none(_: &Session) {}

#[test]
fn both_tuples_find_the_session_and_removal_forgets_them() {
    let mut c = table(16);
    let o = t(UDP, 1000, 53);
    let id = c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    assert_eq!(c.lookup(&o), Some((id, Dir::Orig)));
    assert_eq!(c.lookup(&o.reverse()), Some((id, Dir::Reply)));
    assert_eq!(
        c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none),
        Err(InsertError::Exists)
    );
    c.remove(id);
    assert_eq!(c.lookup(&o), None);
    assert_eq!(c.lookup(&o.reverse()), None);
    assert!(c.is_empty());
}

#[test]
fn many_sessions_in_and_out_keep_every_lookup_right() {
    // Backward-shift deletion under heavy churn: every live key stays findable.
    let mut c = table(1000);
    let mut rng = burst_port::clock::SplitMix64::new(3);
    let mut live: Vec<(Tuple, SessionId)> = Vec::new();
    for round in 0..20_000u32 {
        if live.len() < 900 && (rng.below(3) != 0 || live.is_empty()) {
            let o = t(UDP, (rng.next_u64() as u16) | 1, round as u16);
            if let Ok(id) = c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none) {
                live.push((o, id));
            }
        } else {
            let k = rng.below(live.len() as u64) as usize;
            let (_, id) = live.swap_remove(k);
            c.remove(id);
        }
        if round % 1000 == 0 {
            for (o, id) in &live {
                assert_eq!(c.lookup(o), Some((*id, Dir::Orig)));
                assert_eq!(c.lookup(&o.reverse()), Some((*id, Dir::Reply)));
            }
        }
    }
    assert_eq!(c.len(), live.len());
}

#[test]
fn the_staged_lookup_agrees_with_the_walk() {
    // What the fast path does per burst (prefetch_session, then lookup_staged) finds what a
    // plain lookup finds: present keys both ways, absent keys, and a staged slot whose session
    // has another key (a hash collision, forced here by staging a wrong slot).
    let mut c = table(1000);
    let mut rng = burst_port::clock::SplitMix64::new(5);
    let mut keys = Vec::new();
    for i in 0..900u16 {
        let o = t(UDP, (rng.next_u64() as u16) | 1, i);
        if c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none).is_ok() {
            keys.push(o);
        }
    }
    let absent = (0..900u16).map(|i| t(TCP, i, 7));
    for k in keys.iter().flat_map(|o| [*o, o.reverse()]).chain(absent) {
        let h = c.hash_of(&k);
        let staged = c.prefetch_session(h);
        assert_eq!(c.lookup_staged(&k, h, staged), c.lookup(&k), "{k}");
    }
    let (a, b) = (keys[0], keys[1]);
    let wrong = c.prefetch_session(c.hash_of(&b));
    assert_ne!(wrong, STAGED_NONE);
    let h = c.hash_of(&a);
    assert_eq!(c.lookup_staged(&a, h, wrong), c.lookup(&a));
    assert!(c.lookup(&a).is_some());
}

#[test]
fn each_class_times_out_after_its_own_timeout() {
    let mut c = table(16);
    let cfg = *c.config();
    let u = t(UDP, 1, 2);
    let i = t(ICMP, 7, 7);
    let s = t(TCP, 3, 4);
    c.insert(u, u.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    c.insert(i, i.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    c.insert(s, s.reverse(), flags::SYN, Nanos::ZERO, &mut none)
        .unwrap();
    let mut gone = Vec::new();
    c.expire(cfg.icmp, &mut |s: &Session| gone.push(s.orig.proto));
    assert_eq!(gone, [ICMP]);
    c.expire(cfg.tcp_transitory, &mut |s: &Session| {
        gone.push(s.orig.proto)
    });
    assert_eq!(gone, [ICMP, TCP]);
    c.expire(cfg.udp - Nanos(1), &mut |s: &Session| {
        gone.push(s.orig.proto)
    });
    assert_eq!(gone, [ICMP, TCP]);
    c.expire(cfg.udp, &mut |s: &Session| gone.push(s.orig.proto));
    assert_eq!(gone, [ICMP, TCP, UDP]);
    assert_eq!(c.stats.expired, 3);
}

#[test]
fn traffic_keeps_a_session_alive_and_aging_is_bounded_per_call() {
    let mut c = Conntrack::new(
        ConntrackConfig {
            max_sessions: 100,
            expire_budget: 10,
            ..Default::default()
        },
        1,
    );
    let udp = c.config().udp;
    let keep = t(UDP, 9, 9);
    let kid = c
        .insert(keep, keep.reverse(), 0, Nanos::ZERO, &mut none)
        .unwrap();
    for p in 0..50 {
        let o = t(UDP, 100 + p, 1);
        c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    }
    assert_eq!(c.track(kid, Dir::Reply, 0, udp - Nanos(1)), Tracked::Ok);
    assert_eq!(c.expire(udp, &mut none), 10, "a budget's worth per call");
    let mut calls = 1;
    while c.expire(udp, &mut none) > 0 {
        calls += 1;
    }
    assert_eq!(calls, 5);
    assert_eq!(c.len(), 1);
    assert!(c.get(kid).replied());
    assert_eq!(c.lookup(&keep), Some((kid, Dir::Orig)));
}

#[test]
fn a_full_table_reuses_the_oldest_expired_session_then_refuses() {
    let mut c = table(2);
    let udp = c.config().udp;
    let a = t(UDP, 1, 1);
    let b = t(UDP, 2, 2);
    c.insert(a, a.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    c.insert(b, b.reverse(), 0, Nanos::from_secs(1), &mut none)
        .unwrap();
    let x = t(UDP, 3, 3);
    assert_eq!(
        c.insert(x, x.reverse(), 0, Nanos::from_secs(2), &mut none),
        Err(InsertError::Full)
    );
    assert_eq!(c.stats.drop_full, 1);
    // `a` expired (not yet aged out): reused for `x`, and the owner hears of it.
    let mut evicted = Vec::new();
    c.insert(x, x.reverse(), 0, udp, &mut |s: &Session| {
        evicted.push(s.orig)
    })
    .unwrap();
    assert_eq!(evicted, [a]);
    assert_eq!(c.stats.reused, 1);
    assert!(c.lookup(&a).is_none() && c.lookup(&b).is_some() && c.lookup(&x).is_some());
}

#[test]
fn tcp_opens_closes_and_resets() {
    use flags::*;
    let mut c = table(4);
    let cfg = *c.config();
    let o = t(TCP, 40000, 80);
    let id = c
        .insert(o, o.reverse(), SYN, Nanos::ZERO, &mut none)
        .unwrap();
    let st = |c: &Conntrack| c.get(id).tcp_state().unwrap();
    assert_eq!(st(&c), TcpState::SynSent);
    // The originator cannot answer its own SYN.
    assert_eq!(
        c.track(id, Dir::Orig, SYN | ACK, Nanos::ZERO),
        Tracked::Invalid
    );
    c.track(id, Dir::Reply, SYN | ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::SynRecv);
    c.track(id, Dir::Orig, ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::Established);
    assert_eq!(c.get(id).expires, cfg.tcp_established);
    assert_eq!(c.track(id, Dir::Orig, SYN, Nanos::ZERO), Tracked::Invalid);
    c.track(id, Dir::Orig, FIN | ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::FinWait);
    c.track(id, Dir::Reply, FIN | ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::Closing);
    c.track(id, Dir::Orig, ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::TimeWait);
    assert_eq!(c.get(id).expires, cfg.tcp_transitory);
    // Reused 4-tuple.
    c.track(id, Dir::Orig, SYN, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::SynSent);
    c.track(id, Dir::Reply, RST | ACK, Nanos::ZERO);
    assert_eq!(st(&c), TcpState::Close);
    assert_eq!(c.get(id).expires, cfg.tcp_closed);
    // A mid-stream ACK picks a session up as established.
    let m = t(TCP, 40001, 80);
    let mid = c
        .insert(m, m.reverse(), ACK, Nanos::ZERO, &mut none)
        .unwrap();
    assert_eq!(c.get(mid).tcp_state(), Some(TcpState::Established));
}

#[test]
fn flush_is_worked_off_a_budget_at_a_time() {
    let mut c = Conntrack::new(
        ConntrackConfig {
            max_sessions: 64,
            expire_budget: 8,
            ..Default::default()
        },
        2,
    );
    for p in 0..20 {
        let o = t(UDP, p, 1);
        c.insert(o, o.reverse(), 0, Nanos::ZERO, &mut none).unwrap();
    }
    c.flush();
    assert_eq!(c.expire(Nanos::ZERO, &mut none), 8);
    assert!(c.flushing());
    c.expire(Nanos::ZERO, &mut none);
    c.expire(Nanos::ZERO, &mut none);
    assert!(!c.flushing() && c.is_empty());
    assert_eq!(c.stats.flushed, 20);
}

/// A NAT's sessions differ in a few low bits of their words (the l3fwd benchmark's: 64,512
/// inside endpoints on 16 hosts to 16 servers, each endpoint's port preserved on one public
/// address): both tuples of each, placed by linear probing in an index as full as the
/// table's (two keys in four slots), must not form long runs under any key.
#[test]
fn the_index_hash_spreads_structured_tuples_under_every_key() {
    let ip = |a: u8, b: u8, c: u8, d: u8| Ipv4Addr::new(a, b, c, d);
    let slots = 1usize << 18;
    for key in 0..16u64 {
        let seed = mix(2 * key + 1);
        let mut used = vec![false; slots];
        let (mut total, mut longest) = (0usize, 0usize);
        for e in 0..64_512usize {
            let o = Tuple {
                src: ip(198, 18, 0, 10 + (e % 16) as u8),
                dst: ip(198, 18, 1, 10 + (e / 16 % 16) as u8),
                sport: 1024 + e as u16,
                dport: 80 + (e % 16) as u16,
                proto: TCP,
                zone: 0,
            };
            let r = Tuple {
                src: o.dst,
                dst: ip(198, 19, 1, 3),
                sport: o.dport,
                dport: o.sport,
                ..o
            };
            for k in [o, r] {
                let mut i = k.hash(seed) as usize & (slots - 1);
                let mut probes = 0;
                while used[i] {
                    i = (i + 1) & (slots - 1);
                    probes += 1;
                }
                used[i] = true;
                total += probes;
                longest = longest.max(probes);
            }
        }
        // Random placement at this load: about 0.5 probes a key, the longest a few dozen.
        assert!(total < 2 * 64_512, "key {key}: {total} probes in all");
        assert!(longest < 200, "key {key}: a run of {longest} slots");
    }
}

#[test]
fn the_symmetric_hash_is_the_same_both_ways() {
    let o = t(TCP, 1234, 80);
    assert_eq!(o.symmetric_hash(), o.reverse().symmetric_hash());
    assert_ne!(o.symmetric_hash(), t(TCP, 1235, 80).symmetric_hash());
}
