//! Readers and the publishing control on separate threads.

use super::*;

#[test]
fn readers_see_consistent_versions_while_the_control_publishes() {
    const VERSIONS: u64 = 2_000;
    const ENTRIES: u8 = 16;
    let mut table = NeighTable::new();
    let reader = table.reader();
    let done = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    let seen_versions = Arc::new(AtomicU64::new(0));
    // The entries of version v all carry MAC 02:00:00:00:hi(v):lo(v); a torn read would mix.
    let entries = |v: u64| {
        let mac = MacAddr::new(0x02, 0, 0, 0, (v >> 8) as u8, v as u8);
        (0..ENTRIES).map(move |i| {
            let ip = Ipv4Addr::new(198, 18, 3, i);
            (
                (P0, ip),
                Neighbor::new(mac, NeighKind::Dynamic, Nanos::ZERO),
            )
        })
    };
    std::thread::scope(|sc| {
        let r = reader.clone();
        let (done, started, seen_versions) = (&done, &started, &seen_versions);
        let h = sc.spawn(move || {
            let mut last = 0;
            let mut seen = 0u64;
            // Bounded by time, not by a count a descheduled writer could outlast.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            for i in 0u64.. {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer never finished publishing (last version seen {last})"
                );
                started.store(true, Ordering::Relaxed);
                let finished = done.load(Ordering::Acquire);
                let snap = r.pin();
                let v = snap.version();
                assert!(v >= last, "version went back: {v} < {last}");
                if v != last {
                    seen += 1;
                }
                last = v;
                if v > 0 {
                    let want = MacAddr::new(0x02, 0, 0, 0, (v >> 8) as u8, v as u8);
                    assert_eq!(snap.table().len(), usize::from(ENTRIES));
                    for n in 0..ENTRIES {
                        let ip = Ipv4Addr::new(198, 18, 3, n);
                        assert_eq!(snap.lookup(P0, ip, Nanos(i)), Some(want));
                    }
                }
                if finished {
                    assert_eq!(v, VERSIONS);
                    seen_versions.store(seen, Ordering::Relaxed);
                    return;
                }
            }
        });
        // Publishing before the reader runs would still be correct, only a weaker test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !started.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        for v in 1..=VERSIONS {
            assert_eq!(table.publish(entries(v)), v);
        }
        done.store(true, Ordering::Release);
        h.join().unwrap();
    });
    assert!(seen_versions.load(Ordering::Relaxed) >= 1);
    assert_eq!(reader.version(), VERSIONS);
}

#[test]
fn worker_stamps_reach_the_control_across_versions() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    std::thread::scope(|sc| {
        let r = reader.clone();
        sc.spawn(move || {
            for t in [10u64, 20, 100] {
                assert_eq!(r.lookup(P0, H1, s(t)), Some(H1_MAC));
            }
        });
    });
    // A later version (another neighbour learned) keeps the seen_versions.
    learn(&mut c, &mut f, H2, H2_MAC, s(101));
    assert_eq!(c.neighbor(P0, H1).unwrap().last_used, s(100));
    assert_eq!(reader.pin().get(P0, H1).unwrap().last_used(), s(100));
    c.poll(s(219), &mut f);
    assert!(c.neighbor(P0, H1).is_some());
    c.poll(s(221), &mut f);
    assert!(c.neighbor(P0, H1).is_none());
}
