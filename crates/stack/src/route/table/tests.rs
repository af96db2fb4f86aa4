use super::*;

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn ip(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn table() -> RouteTable {
    RouteTable::new(16, 64)
}

/// The gateway the workers' view picks for `dst`, checked against the writer's own view.
#[track_caller]
fn via(t: &RouteTable, dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let reader = t.reader();
    let guard = reader.domain().pin();
    let hop = reader.lookup(dst, &guard).copied();
    assert_eq!(hop, t.lookup(dst));
    let route = t.route_for(dst);
    assert_eq!(
        hop.map(|h| (h.gateway, h.port)),
        route.map(|r| (r.gateway, r.port))
    );
    hop.and_then(|h| h.gateway)
}

const GW_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const GW_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const GW_C: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const GW_D: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 4);

#[test]
fn readers_are_shareable() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<RouteReader>();
    shareable::<crate::route::LpmReader>();
}

#[test]
fn longest_prefix_then_metric_then_port_then_insertion() {
    let mut t = table();
    t.add(Route::via(cidr("198.18.0.0/15"), GW_A, PortId(0), 10))
        .unwrap();
    t.add(Route::via(cidr("198.18.1.0/24"), GW_B, PortId(1), 50))
        .unwrap();
    let host = ip([198, 18, 1, 5]);
    // Longest prefix wins over a better metric.
    assert_eq!(via(&t, host), Some(GW_B));
    assert_eq!(via(&t, ip([198, 19, 2, 1])), Some(GW_A));
    // Same prefix: lower metric wins.
    t.add(Route::via(cidr("198.18.1.0/24"), GW_C, PortId(1), 5))
        .unwrap();
    assert_eq!(via(&t, host), Some(GW_C));
    // Equal metric: lower port wins even though it came later.
    t.add(Route::via(cidr("198.18.1.0/24"), GW_D, PortId(0), 5))
        .unwrap();
    assert_eq!(via(&t, host), Some(GW_D));
    // Equal metric and port: the older one stays.
    t.add(Route::via(cidr("198.18.1.0/24"), GW_A, PortId(0), 5))
        .unwrap();
    assert_eq!(via(&t, host), Some(GW_D));
    // Delete restores the runner-up, then the next, then the covering prefix.
    assert_eq!(t.delete(cidr("198.18.1.0/24"), Some(GW_D)), Ok(1));
    assert_eq!(via(&t, host), Some(GW_A));
    assert_eq!(t.route_for(host).unwrap().port, PortId(0));
    assert_eq!(t.delete(cidr("198.18.1.0/24"), Some(GW_A)), Ok(1));
    assert_eq!(via(&t, host), Some(GW_C));
    assert_eq!(t.delete(cidr("198.18.1.9/24"), None), Ok(2));
    assert_eq!(via(&t, host), Some(GW_A));
    assert_eq!(t.route_for(host).unwrap().prefix, cidr("198.18.0.0/15"));
    assert_eq!(
        t.delete(cidr("198.18.1.0/24"), None),
        Err(RouteError::NotFound)
    );
    assert_eq!(
        t.delete(cidr("198.18.0.0/15"), Some(GW_B)),
        Err(RouteError::NotFound)
    );
}

#[test]
fn connected_routes_and_host_routes_beside_them() {
    let mut t = table();
    let me = ip([198, 18, 0, 10]);
    t.add(Route::connected(cidr("198.18.0.0/24"), PortId(0), me))
        .unwrap();
    t.add(Route::via(cidr("198.18.0.77/32"), GW_B, PortId(0), 1))
        .unwrap();
    let r = t.reader();
    let g = r.domain().pin();
    let on_link = *r.lookup(ip([198, 18, 0, 9]), &g).unwrap();
    assert_eq!(on_link.gateway, None);
    assert_eq!(on_link.source, Some(me));
    assert_eq!(on_link.neighbour(ip([198, 18, 0, 9])), ip([198, 18, 0, 9]));
    let host = *r.lookup(ip([198, 18, 0, 77]), &g).unwrap();
    assert_eq!(host.neighbour(ip([198, 18, 0, 77])), GW_B);
    assert_eq!(r.lookup(ip([198, 19, 0, 1]), &g), None);
    let bulk = r.lookup_bulk(
        &[
            ip([198, 18, 0, 9]),
            ip([198, 18, 0, 77]),
            ip([198, 19, 0, 1]),
            ip([198, 18, 0, 255]),
        ],
        &g,
    );
    assert_eq!(
        bulk.map(|h| h.map(|h| h.id)),
        [Some(on_link.id), Some(host.id), None, Some(on_link.id)]
    );
}

#[test]
fn multiple_default_gateways_in_selection_order() {
    let mut t = table();
    let dflt = Cidr::DEFAULT;
    t.add(Route::via(dflt, GW_A, PortId(1), 20)).unwrap();
    t.add(Route::via(dflt, GW_B, PortId(2), 10)).unwrap();
    t.add(Route::via(dflt, GW_C, PortId(1), 10)).unwrap();
    t.add(Route::via(dflt, GW_D, PortId(1), 10)).unwrap();
    let order = |t: &RouteTable| -> Vec<Ipv4Addr> {
        t.defaults().iter().map(|r| r.gateway.unwrap()).collect()
    };
    assert_eq!(order(&t), [GW_C, GW_D, GW_B, GW_A]);
    let far = ip([198, 19, 200, 1]);
    assert_eq!(via(&t, far), Some(GW_C));
    assert_eq!(t.delete(dflt, Some(GW_C)), Ok(1));
    assert_eq!(order(&t), [GW_D, GW_B, GW_A]);
    assert_eq!(via(&t, far), Some(GW_D));
    assert_eq!(
        t.add(Route::via(dflt, GW_D, PortId(1), 1)),
        Err(RouteError::Exists)
    );
    // Same gateway through another port is another route.
    t.add(Route::via(dflt, GW_D, PortId(0), 10)).unwrap();
    assert_eq!(order(&t), [GW_D, GW_D, GW_B, GW_A]);
    assert_eq!(t.defaults()[0].port, PortId(0));
    assert_eq!(t.delete(dflt, Some(GW_D)), Ok(2));
    assert_eq!(via(&t, far), Some(GW_B));
    assert_eq!(t.delete(dflt, None), Ok(2));
    assert!(t.defaults().is_empty());
    assert_eq!(via(&t, far), None);
}

#[test]
fn route_print_order_and_validation() {
    let mut t = table();
    t.add(Route::via(cidr("198.18.5.0/24"), GW_A, PortId(0), 1))
        .unwrap();
    t.add(Route::via(cidr("198.18.0.0/15"), GW_A, PortId(0), 1))
        .unwrap();
    t.add(Route::via(cidr("198.18.0.0/16"), GW_B, PortId(0), 9))
        .unwrap();
    t.add(Route::via(cidr("198.18.0.0/16"), GW_A, PortId(0), 1))
        .unwrap();
    let printed: Vec<(String, Ipv4Addr)> = t
        .routes()
        .iter()
        .map(|r| (r.prefix.to_string(), r.gateway.unwrap()))
        .collect();
    assert_eq!(
        printed,
        [
            ("198.18.0.0/15".to_string(), GW_A),
            ("198.18.0.0/16".to_string(), GW_A),
            ("198.18.0.0/16".to_string(), GW_B),
            ("198.18.5.0/24".to_string(), GW_A),
        ]
    );
    for bad in [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        ip([224, 0, 0, 1]),
    ] {
        assert_eq!(
            t.add(Route::via(cidr("198.19.0.0/16"), bad, PortId(0), 1)),
            Err(RouteError::InvalidGateway(bad))
        );
    }
    assert_eq!(t.routes().len(), 4);
}

#[test]
fn redirects_expire_and_the_old_route_returns() {
    let mut t = table();
    let host = ip([198, 18, 7, 7]);
    t.add(Route::via(Cidr::DEFAULT, GW_A, PortId(0), 10))
        .unwrap();
    assert_eq!(t.next_deadline(), None);
    assert_eq!(t.expire(Nanos::from_secs(1_000)), 0);
    let redirect = Route {
        kind: RouteKind::Redirect,
        expires: Some(Nanos::from_secs(10)),
        ..Route::via(cidr("198.18.7.7/32"), GW_B, PortId(0), 10)
    };
    t.add(redirect).unwrap();
    t.add(Route {
        expires: Some(Nanos::from_secs(20)),
        ..Route::via(cidr("198.18.7.8/32"), GW_C, PortId(0), 10)
    })
    .unwrap();
    assert_eq!(via(&t, host), Some(GW_B));
    assert_eq!(t.next_deadline(), Some(Nanos::from_secs(10)));
    let v = t.version();
    assert_eq!(t.expire(Nanos::from_secs(9)), 0);
    assert_eq!(t.version(), v, "nothing expired, nothing published");
    assert_eq!(t.expire(Nanos::from_secs(10)), 1);
    assert!(t.version() > v);
    assert_eq!(via(&t, host), Some(GW_A));
    assert_eq!(via(&t, ip([198, 18, 7, 8])), Some(GW_C));
    assert_eq!(t.next_deadline(), Some(Nanos::from_secs(20)));
    assert_eq!(t.expire(Nanos::from_secs(25)), 1);
    assert_eq!(t.next_deadline(), None);
    assert_eq!(t.routes().len(), 1);
}

#[test]
fn next_hops_are_interned_and_snapshots_versioned() {
    let mut t = table();
    let reader = t.reader();
    let v0 = t.version();
    t.add(Route::via(cidr("198.18.1.0/24"), GW_A, PortId(0), 1))
        .unwrap();
    t.add(Route::via(cidr("198.18.2.0/24"), GW_A, PortId(0), 1))
        .unwrap();
    t.add(Route::via(cidr("198.18.3.0/24"), GW_A, PortId(1), 1))
        .unwrap();
    let g = t.domain().pin();
    let a1 = *reader.lookup(ip([198, 18, 1, 1]), &g).unwrap();
    let a2 = *reader.lookup(ip([198, 18, 2, 1]), &g).unwrap();
    let a3 = *reader.lookup(ip([198, 18, 3, 1]), &g).unwrap();
    assert_eq!(a1.id, a2.id, "same gateway, port and source: one next hop");
    assert_ne!(a1.id, a3.id, "another port: another next hop");
    assert_eq!(reader.version(&g), t.version());
    assert!(t.version() >= v0 + 3);
    // A snapshot a reader holds does not change under it.
    let held = reader.next_hops(&g);
    let held_version = held.version();
    t.delete(cidr("198.18.1.0/24"), None).unwrap();
    assert_eq!(held.version(), held_version);
    assert_eq!(held.get(a1.id), Some(&a1));
    assert!(reader.version(&g) > held_version);
    // Still used by 198.18.2.0/24: the id stays.
    assert_eq!(reader.lookup(ip([198, 18, 2, 1]), &g).unwrap().id, a1.id);
    drop(g);
}

#[test]
fn next_hop_ids_are_reused_only_after_the_grace_period() {
    let mut t = RouteTable::new(4, 2);
    t.add(Route::via(cidr("198.18.1.0/24"), GW_A, PortId(0), 1))
        .unwrap();
    let old = t.lookup(ip([198, 18, 1, 1])).unwrap().id;
    // A worker is inside a burst: the id it may have read must not change meaning.
    let reader = t.reader();
    let g = reader.domain().pin();
    assert_eq!(reader.lookup(ip([198, 18, 1, 1]), &g).unwrap().id, old);
    t.delete(cidr("198.18.1.0/24"), None).unwrap();
    t.add(Route::via(cidr("198.18.2.0/24"), GW_B, PortId(0), 1))
        .unwrap();
    let fresh = t.lookup(ip([198, 18, 2, 1])).unwrap().id;
    assert_ne!(fresh, old);
    // The retired id still resolves to what it meant.
    assert_eq!(reader.next_hops(&g).get(old).unwrap().gateway, Some(GW_A));
    // Both ids taken (one live, one in its grace period): a third next hop cannot get one
    // while the reader stays pinned. That is "busy", not "full": retrying can work.
    t.set_reclaim_wait(Duration::ZERO);
    assert_eq!(
        t.add(Route::via(cidr("198.18.3.0/24"), GW_C, PortId(0), 1)),
        Err(RouteError::Busy)
    );
    drop(g);
    // Unpinned: the table's own domain has no other participant, so the grace period ends
    // within the add's first flushes (nothing else in the process can hold it back).
    t.add(Route::via(cidr("198.18.3.0/24"), GW_C, PortId(0), 1))
        .unwrap();
    let reused = t.lookup(ip([198, 18, 3, 1])).unwrap();
    assert_eq!((reused.id, reused.gateway), (old, Some(GW_C)));
    // Only when every id is used by a route is the table full.
    assert_eq!(
        t.add(Route::via(cidr("198.18.4.0/24"), GW_D, PortId(0), 1)),
        Err(RouteError::NextHopsFull)
    );
}

/// A guard on crossbeam's process-wide collector, or on another node's domain, does not hold
/// this table's reclamation back: ids come back at once.
#[test]
fn readers_of_other_domains_do_not_delay_reuse() {
    let mut t = RouteTable::new(4, 1);
    let other = RouteTable::new(4, 1);
    let _elsewhere = (crossbeam_epoch::pin(), other.domain().pin());
    t.set_reclaim_wait(Duration::ZERO);
    for gw in [GW_A, GW_B, GW_C, GW_D, GW_A] {
        t.add(Route::via(cidr("198.18.1.0/24"), gw, PortId(0), 1))
            .unwrap();
        t.delete(cidr("198.18.1.0/24"), None).unwrap();
    }
}

/// A route the LPM refuses leaves no id behind in a grace period: with a reader pinned the
/// whole time (a worker descheduled mid-burst), refused adds never turn into "no free id".
#[test]
fn refused_routes_do_not_use_up_next_hop_ids() {
    let mut t = RouteTable::new(1, 2);
    t.set_reclaim_wait(Duration::ZERO);
    t.add(Route::via(cidr("198.18.0.0/15"), GW_A, PortId(0), 1))
        .unwrap();
    t.add(Route::via(cidr("198.18.1.1/32"), GW_A, PortId(0), 1))
        .unwrap();
    let reader = t.reader();
    let g = reader.domain().pin();
    for _ in 0..10 {
        // Needs a second tbl8 group: refused, and its fresh next hop (GW_B) is free again.
        assert_eq!(
            t.add(Route::via(cidr("198.18.2.1/32"), GW_B, PortId(1), 1)),
            Err(RouteError::TableFull)
        );
    }
    assert_eq!(t.routes().len(), 2);
    // The second id is still there for a route that fits.
    t.add(Route::via(cidr("198.18.3.0/24"), GW_B, PortId(1), 1))
        .unwrap();
    assert_eq!(
        reader.lookup(ip([198, 18, 3, 1]), &g).map(|h| h.gateway),
        // `g` was pinned before the add, but the LPM is read live: the new route shows.
        Some(Some(GW_B))
    );
    drop(g);
}

#[test]
fn a_full_tbl8_pool_refuses_the_route_and_changes_nothing() {
    let mut t = RouteTable::new(1, 8);
    t.add(Route::via(cidr("198.18.1.1/32"), GW_A, PortId(0), 1))
        .unwrap();
    let v = t.version();
    assert_eq!(
        t.add(Route::via(cidr("198.18.2.1/32"), GW_B, PortId(0), 1)),
        Err(RouteError::TableFull)
    );
    assert_eq!(t.routes().len(), 1);
    assert_eq!(via(&t, ip([198, 18, 2, 1])), None);
    assert!(t.version() >= v);
    // A second route for an existing long prefix needs no group.
    t.add(Route::via(cidr("198.18.1.1/32"), GW_B, PortId(0), 0))
        .unwrap();
    assert_eq!(via(&t, ip([198, 18, 1, 1])), Some(GW_B));
}

/// Workers read while the control thread flips a prefix between gateways and deletes it: every
/// answer is one some version had, and always resolves.
#[test]
fn concurrent_readers_always_resolve_a_legal_next_hop() {
    let mut t = RouteTable::new(1, 16);
    t.add(Route::via(cidr("198.18.0.0/15"), GW_A, PortId(0), 1))
        .unwrap();
    let reader = t.reader();
    let done = AtomicBool::new(false);
    let seen = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let dsts = [
        ip([198, 18, 9, 1]),
        ip([198, 18, 9, 200]),
        ip([198, 19, 0, 1]),
        ip([198, 18, 9, 255]),
    ];
    std::thread::scope(|s| {
        let (reader, done, seen) = (&reader, &done, &seen);
        s.spawn(move || {
            let mut n = 0u64;
            while !done.load(Relaxed) && n < 5_000_000 && Instant::now() < deadline {
                let g = reader.domain().pin();
                for (i, hop) in reader.lookup_bulk(&dsts, &g).iter().enumerate() {
                    let hop = hop.expect("every state routes these");
                    let legal: &[Ipv4Addr] = match i {
                        2 => &[GW_A],
                        1 => &[GW_A, GW_B, GW_C, GW_D],
                        _ => &[GW_A, GW_B, GW_C],
                    };
                    assert!(legal.contains(&hop.gateway.unwrap()), "{i}: {hop:?}");
                    // Ports are per gateway: a mixed-up slot would show.
                    let port = if hop.gateway == Some(GW_A) { 0 } else { 1 };
                    assert_eq!(hop.port, PortId(port));
                    n += 1;
                }
                // Progress the writer can see (it keeps changing routes until the reader has
                // really run alongside it, however the two cores are shared).
                seen.store(n, Relaxed);
            }
        });
        // A freed group or id may still wait for the reader to leave it (a reader descheduled
        // while pinned): the add reports busy after its wait, and a retry succeeds once the
        // reader moves on. Bounded by time, with a message, not by a count.
        let add = |t: &mut RouteTable, r: Route| {
            let mut tries = 0;
            while let Err(e) = t.add(r) {
                assert_eq!(e, RouteError::Busy);
                tries += 1;
                assert!(
                    Instant::now() < deadline,
                    "the reader never let the group or id go ({tries} tries)"
                );
            }
        };
        let mut round = 0u32;
        while round < 500 || (seen.load(Relaxed) < 10_000 && Instant::now() < deadline) {
            round += 1;
            let gw = if round % 2 == 0 { GW_B } else { GW_C };
            add(&mut t, Route::via(cidr("198.18.9.0/24"), gw, PortId(1), 1));
            add(
                &mut t,
                Route::via(cidr("198.18.9.200/32"), GW_D, PortId(1), 1),
            );
            t.delete(cidr("198.18.9.200/32"), None).unwrap();
            t.delete(cidr("198.18.9.0/24"), None).unwrap();
        }
        done.store(true, Relaxed);
    });
    assert!(
        seen.load(Relaxed) >= 10_000,
        "the reader ran alongside the writer"
    );
    assert_eq!(t.routes().len(), 1);
}
