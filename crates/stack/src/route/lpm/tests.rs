use super::*;

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use burst_port::clock::SplitMix64;
use proptest::prelude::*;

fn cidr(a: [u8; 4], len: u8) -> Cidr {
    Cidr::new(Ipv4Addr::from(a), len).unwrap()
}

fn ip(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

/// The obvious longest-prefix match: one map per length, longest first.
struct Reference {
    rules: Vec<HashMap<u32, u32>>,
}

impl Reference {
    fn new() -> Reference {
        Reference {
            rules: (0..=32).map(|_| HashMap::default()).collect(),
        }
    }

    fn add(&mut self, p: Cidr, nh: u32) -> Option<u32> {
        let n = p.network();
        self.rules[n.prefix_len() as usize].insert(n.address().to_bits(), nh)
    }

    fn delete(&mut self, p: Cidr) -> Option<u32> {
        let n = p.network();
        self.rules[n.prefix_len() as usize].remove(&n.address().to_bits())
    }

    fn lookup(&self, a: Ipv4Addr) -> Option<u32> {
        let a = a.to_bits();
        (0..=32u8)
            .rev()
            .filter(|&d| !self.rules[d as usize].is_empty())
            .find_map(|d| self.rules[d as usize].get(&(a & mask(d))).copied())
    }
}

#[track_caller]
fn check(lpm: &Lpm, r: &Reference, a: Ipv4Addr) {
    assert_eq!(lpm.lookup(a), r.lookup(a), "lookup {a}");
}

#[test]
fn basics_default_host_and_overlaps() {
    let mut l = Lpm::new(4);
    assert_eq!(l.lookup(ip([198, 18, 0, 1])), None);
    l.add(Cidr::DEFAULT, 1).unwrap();
    l.add(cidr([198, 18, 0, 0], 15), 2).unwrap();
    l.add(cidr([198, 18, 1, 0], 24), 3).unwrap();
    l.add(cidr([198, 18, 1, 128], 25), 4).unwrap();
    l.add(cidr([198, 18, 1, 200], 32), 5).unwrap();
    let at = |l: &Lpm, a| l.lookup(ip(a));
    assert_eq!(at(&l, [198, 20, 0, 1]), Some(1));
    assert_eq!(at(&l, [198, 19, 9, 9]), Some(2));
    assert_eq!(at(&l, [198, 18, 1, 127]), Some(3));
    assert_eq!(at(&l, [198, 18, 1, 128]), Some(4));
    assert_eq!(at(&l, [198, 18, 1, 200]), Some(5));
    assert_eq!(l.tbl8_groups_in_use(), 1);
    assert_eq!(l.len(), 5);
    // Re-pointing the /24 changes only the entries it owns, also inside the group.
    l.add(cidr([198, 18, 1, 0], 24), 6).unwrap();
    assert_eq!(at(&l, [198, 18, 1, 0]), Some(6));
    assert_eq!(at(&l, [198, 18, 1, 129]), Some(4));
    assert_eq!(l.delete(cidr([198, 18, 1, 128], 25)), Some(4));
    assert_eq!(at(&l, [198, 18, 1, 129]), Some(6));
    assert_eq!(at(&l, [198, 18, 1, 200]), Some(5));
    assert_eq!(l.tbl8_groups_in_use(), 1);
    // The last rule longer than /24 goes: the group is retired, tbl24 answers again.
    assert_eq!(l.delete(cidr([198, 18, 1, 200], 32)), Some(5));
    assert_eq!(l.tbl8_groups_in_use(), 0);
    assert_eq!(at(&l, [198, 18, 1, 200]), Some(6));
    assert_eq!(l.delete(cidr([198, 18, 1, 0], 24)), Some(6));
    assert_eq!(at(&l, [198, 18, 1, 200]), Some(2));
    assert_eq!(l.delete(cidr([198, 18, 1, 0], 24)), None);
    assert_eq!(l.delete(Cidr::DEFAULT), Some(1));
    assert_eq!(at(&l, [198, 20, 0, 1]), None);
    // Host bits are ignored.
    assert_eq!(l.get(cidr([198, 19, 255, 255], 15)), Some(2));
    assert_eq!(
        l.add(cidr([198, 18, 0, 0], 16), MAX_NEXT_HOP + 1),
        Err(LpmError::NextHopTooLarge(MAX_NEXT_HOP + 1))
    );
}

#[test]
fn same_depth_equal_next_hops_in_a_group_are_not_collapsed() {
    let mut l = Lpm::new(2);
    l.add(cidr([198, 18, 0, 0], 25), 7).unwrap();
    l.add(cidr([198, 18, 0, 128], 25), 7).unwrap();
    assert_eq!(l.tbl8_groups_in_use(), 1);
    l.delete(cidr([198, 18, 0, 0], 25));
    assert_eq!(l.lookup(ip([198, 18, 0, 1])), None);
    assert_eq!(l.lookup(ip([198, 18, 0, 200])), Some(7));
}

#[test]
fn pool_exhaustion_leaves_the_table_unchanged() {
    let mut l = Lpm::new(1);
    l.add(cidr([198, 18, 0, 1], 32), 1).unwrap();
    assert_eq!(
        l.add(cidr([198, 18, 1, 1], 32), 2),
        Err(LpmError::Tbl8Exhausted)
    );
    assert_eq!(l.get(cidr([198, 18, 1, 1], 32)), None);
    assert_eq!(l.lookup(ip([198, 18, 1, 1])), None);
    // Same /24 needs no new group.
    l.add(cidr([198, 18, 0, 2], 31), 3).unwrap();
    // After a delete the group comes back once no reader can be inside it (none here).
    l.delete(cidr([198, 18, 0, 1], 32));
    l.delete(cidr([198, 18, 0, 2], 31));
    l.add(cidr([198, 18, 1, 1], 32), 2).unwrap();
    assert_eq!(l.lookup(ip([198, 18, 1, 1])), Some(2));
}

/// A new table answers nothing and uses no group; a full-size pool is allocated lazily (zeroed
/// pages), which benches/lpm.rs measures (`lpm/new_1024_groups`): timing is not a test's job.
#[test]
fn a_new_table_is_empty() {
    let l = Lpm::new(1024);
    assert!(l.is_empty());
    assert_eq!((l.tbl8_groups_in_use(), l.tbl8_groups_max()), (0, 1024));
    for a in [[0, 0, 0, 0], [198, 18, 0, 1], [255, 255, 255, 255]] {
        assert_eq!(l.lookup(ip(a)), None);
    }
}

/// A group retired while a reader is pinned comes back only after the reader unpins: the add
/// that needs it reports busy (not exhausted) meanwhile, and succeeds right after.
#[test]
fn a_retired_group_waits_for_pinned_readers() {
    let mut l = Lpm::new(1);
    l.set_reclaim_wait(Duration::ZERO);
    l.add(cidr([198, 18, 0, 1], 32), 1).unwrap();
    let reader = l.reader();
    let g = reader.domain().pin();
    l.delete(cidr([198, 18, 0, 1], 32));
    assert_eq!(l.tbl8_groups_in_use(), 0);
    assert_eq!(l.add(cidr([198, 18, 1, 1], 32), 2), Err(LpmError::Tbl8Busy));
    assert_eq!(l.get(cidr([198, 18, 1, 1], 32)), None);
    drop(g);
    l.add(cidr([198, 18, 1, 1], 32), 2).unwrap();
    assert_eq!(
        reader.lookup(ip([198, 18, 1, 1]), &reader.domain().pin()),
        Some(2)
    );
}

/// A realistic mix: 55% /24, 35% /8–/23 (longer ones far more often, as in a BGP table),
/// 10% /25–/32. All distinct.
fn random_prefixes(rng: &mut SplitMix64, n: usize, r: &mut Reference) -> Vec<(Cidr, u32)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let roll = rng.below(100);
        let len = if roll < 55 {
            24
        } else if roll < 90 {
            // Geometric: /23 half the time, /22 a quarter, ... down to /8.
            23 - (rng.next_u64().leading_zeros() as u8).min(15)
        } else {
            25 + rng.below(8) as u8
        };
        let p = Cidr::new(Ipv4Addr::from_bits(rng.next_u64() as u32), len)
            .unwrap()
            .network();
        if r.rules[len as usize].contains_key(&p.address().to_bits()) {
            continue;
        }
        let nh = out.len() as u32 + 1;
        r.add(p, nh);
        out.push((p, nh));
    }
    out
}

/// 1,000,000 prefixes against the reference, then half of them deleted. Random data-structure
/// test over the whole address space (no packets are involved).
#[test]
fn million_prefixes_match_the_reference() {
    let mut rng = SplitMix64::new(0x05ee_d1b9);
    let mut r = Reference::new();
    let t0 = Instant::now();
    let prefixes = random_prefixes(&mut rng, 1_000_000, &mut r);
    let deep = prefixes.iter().filter(|(p, _)| p.prefix_len() > 24).count();
    let mut l = Lpm::new(110_000);
    let t1 = Instant::now();
    for &(p, nh) in &prefixes {
        l.add(p, nh).unwrap();
    }
    let built = t1.elapsed();
    assert_eq!(l.len(), prefixes.len());
    assert!(l.tbl8_groups_in_use() as usize <= deep);
    assert!(l.tbl8_groups_in_use() as usize > deep * 9 / 10);
    let probes: Vec<Ipv4Addr> = (0..1_000_000)
        .map(|_| Ipv4Addr::from_bits(rng.next_u64() as u32))
        .collect();
    let check_all = |l: &Lpm, r: &Reference| {
        for &a in &probes {
            check(l, r, a);
        }
        for &(p, _) in &prefixes {
            check(l, r, p.address());
            check(l, r, p.broadcast());
        }
        // The bulk path agrees with the single one.
        let reader = l.reader();
        let guard = reader.domain().pin();
        for chunk in probes[..80_000].chunks_exact(8) {
            let c: &[Ipv4Addr; 8] = chunk.try_into().unwrap();
            c.iter().for_each(|&a| reader.prefetch(a));
            let got = reader.lookup_bulk(c, &guard);
            let want: [Option<u32>; 8] = core::array::from_fn(|i| r.lookup(c[i]));
            assert_eq!(got, want);
        }
    };
    check_all(&l, &r);
    let mut order: Vec<usize> = (0..prefixes.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let t2 = Instant::now();
    for &i in &order[..order.len() / 2] {
        let (p, nh) = prefixes[i];
        assert_eq!(l.delete(p), Some(nh));
        r.delete(p);
    }
    let deleted = t2.elapsed();
    assert_eq!(l.len(), prefixes.len() - prefixes.len() / 2);
    check_all(&l, &r);
    eprintln!(
        "1M prefixes ({deep} longer than /24): generate {:?}, add {built:?}, delete half \
         {deleted:?}, groups in use {}, total {:?}",
        t1 - t0,
        l.tbl8_groups_in_use(),
        t0.elapsed()
    );
}

/// Prefixes that nest and straddle the /24 boundary, inside 198.18.0.0/15.
fn overlapping_set() -> Vec<Cidr> {
    vec![
        cidr([198, 18, 0, 0], 15),
        cidr([198, 18, 1, 0], 24),
        cidr([198, 18, 1, 0], 25),
        cidr([198, 18, 1, 64], 26),
        cidr([198, 18, 0, 0], 23),
    ]
}

fn probes_for(set: &[Cidr]) -> Vec<Ipv4Addr> {
    let mut v = Vec::new();
    for p in set {
        let (lo, hi) = (p.network().address().to_bits(), p.broadcast().to_bits());
        for a in [
            lo,
            hi,
            lo.wrapping_sub(1),
            hi.wrapping_add(1),
            lo + (hi - lo) / 2,
        ] {
            v.push(Ipv4Addr::from_bits(a));
        }
    }
    v
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn overlapping_prefixes_in_every_add_and_delete_order() {
    let set = overlapping_set();
    let probes = probes_for(&set);
    let perms = permutations(set.len());
    let mut l = Lpm::new(8);
    // Every add order against a sample of delete orders (all 120 x 120 would be 14,400 runs).
    for (n, add) in perms.iter().enumerate() {
        for del in perms.iter().skip(n % 7).step_by(7) {
            let mut r = Reference::new();
            for &i in add {
                l.add(set[i], i as u32 + 1).unwrap();
                r.add(set[i], i as u32 + 1);
                probes.iter().for_each(|&a| check(&l, &r, a));
            }
            for &i in del {
                assert_eq!(l.delete(set[i]), Some(i as u32 + 1));
                r.delete(set[i]);
                probes.iter().for_each(|&a| check(&l, &r, a));
            }
            assert!(l.is_empty());
            assert_eq!(l.tbl8_groups_in_use(), 0);
        }
    }
}

fn small_prefix() -> impl Strategy<Value = Cidr> {
    (
        0u8..2,
        prop::sample::select(vec![0u8, 1, 255]),
        any::<u8>(),
        prop::sample::select(vec![0u8, 15, 16, 20, 23, 24, 25, 26, 28, 30, 31, 32]),
    )
        .prop_map(|(b, c, d, len)| cidr([198, 18 + b, c, d], len).network())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random add/delete sequences over a small pool of overlapping prefixes: after every step
    /// the table answers like the reference.
    #[test]
    fn random_add_delete_sequences(
        pool in prop::collection::vec(small_prefix(), 1..8),
        ops in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>(), 1u32..4), 1..40),
    ) {
        let probes = probes_for(&pool);
        let mut l = Lpm::new(16);
        let mut r = Reference::new();
        for (idx, add, nh) in ops {
            let p = pool[idx.index(pool.len())];
            if add {
                l.add(p, nh).unwrap();
                r.add(p, nh);
            } else {
                prop_assert_eq!(l.delete(p), r.delete(p));
            }
            for &a in &probes {
                prop_assert_eq!(l.lookup(a), r.lookup(a), "{}", a);
            }
        }
        for p in &pool {
            l.delete(*p);
        }
        prop_assert_eq!(l.tbl8_groups_in_use(), 0);
    }
}

/// The writer's script for the concurrent test: per round, eight /24s each get a /25 and a /32
/// (one group each) and the /24 itself, plus a /16 over all of them; then everything is deleted
/// in a rotated order, so retired groups come back for other /24s.
fn concurrent_script(rounds: usize) -> Vec<(Cidr, Option<u32>)> {
    let mut ops = Vec::new();
    for round in 0..rounds {
        let mut adds = Vec::new();
        for k in 0..8u8 {
            let k32 = u32::from(k);
            adds.push((cidr([198, 18, k, 128], 25), 20 + k32));
            adds.push((cidr([198, 18, k, 200], 32), 30 + k32));
            adds.push((cidr([198, 18, k, 0], 24), 10 + k32));
        }
        adds.push((cidr([198, 18, 0, 0], 16), 50));
        let rot = round % adds.len();
        adds.rotate_left(rot);
        ops.extend(adds.iter().map(|&(p, nh)| (p, Some(nh))));
        adds.rotate_left(round % 7 + 1);
        ops.extend(adds.iter().map(|&(p, _)| (p, None)));
    }
    ops
}

#[test]
fn concurrent_readers_see_only_old_or_new_answers() {
    const ROUNDS: usize = 300;
    let script = concurrent_script(ROUNDS);
    let mut probes = Vec::new();
    for k in 0..8u8 {
        for d in [1, 130, 200, 255] {
            probes.push(ip([198, 18, k, d]));
        }
    }
    // Legal answers: everything some state of the script gives for that probe.
    let mut r = Reference::new();
    r.add(cidr([198, 18, 0, 0], 15), 100);
    let mut legal: Vec<Vec<Option<u32>>> = probes.iter().map(|&a| vec![r.lookup(a)]).collect();
    for &(p, nh) in &script {
        match nh {
            Some(nh) => r.add(p, nh),
            None => r.delete(p),
        };
        for (l, &a) in legal.iter_mut().zip(&probes) {
            let ans = r.lookup(a);
            if !l.contains(&ans) {
                l.push(ans);
            }
        }
    }
    // The pool is only a little larger than the 8 groups live at the peak: the writer keeps
    // reusing groups that readers were inside a moment ago.
    let mut lpm = Lpm::new(10);
    lpm.add(cidr([198, 18, 0, 0], 15), 100).unwrap();
    let reader = lpm.reader();
    let done = AtomicBool::new(false);
    let seen = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let probes8: Vec<[Ipv4Addr; 8]> = probes
        .chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (reader, probes, probes8, legal) = (reader.clone(), &probes, &probes8, &legal);
            let (done, seen) = (&done, &seen);
            s.spawn(move || {
                let mut n = 0u64;
                let mut bursts = 0u64;
                while !done.load(Relaxed) && bursts < 2_000_000 && Instant::now() < deadline {
                    bursts += 1;
                    // One pin per burst, as a worker does.
                    let guard = reader.domain().pin();
                    if t == 0 {
                        for (i, &a) in probes.iter().enumerate() {
                            let got = reader.lookup(a, &guard);
                            assert!(
                                legal[i].contains(&got),
                                "{a}: {got:?} not in {:?}",
                                legal[i]
                            );
                            n += 1;
                        }
                    } else {
                        for (c, chunk) in probes8.iter().enumerate() {
                            let got = reader.lookup_bulk(chunk, &guard);
                            for (j, g) in got.iter().enumerate() {
                                let i = c * 8 + j;
                                assert!(legal[i].contains(g), "{}: {g:?}", probes[i]);
                            }
                            let four: &[Ipv4Addr; 4] = chunk[..4].try_into().unwrap();
                            let got4 = reader.lookup_bulk(four, &guard);
                            assert_eq!(got4.len(), 4);
                            for (j, g) in got4.iter().enumerate() {
                                assert!(legal[c * 8 + j].contains(g));
                            }
                            n += 12;
                        }
                    }
                }
                seen.fetch_add(n, Relaxed);
            });
        }
        let mut exhausted = 0u32;
        for &(p, nh) in &script {
            match nh {
                Some(nh) => {
                    // Groups may still wait for a reader descheduled while pinned: the add
                    // reports busy after its wait; retry until the deadline.
                    let mut tries = 0;
                    while let Err(e) = lpm.add(p, nh) {
                        assert_eq!(e, LpmError::Tbl8Busy);
                        exhausted += 1;
                        tries += 1;
                        assert!(
                            Instant::now() < deadline,
                            "readers never let a group go ({tries} tries)"
                        );
                    }
                }
                None => {
                    lpm.delete(p).unwrap();
                }
            }
        }
        done.store(true, Relaxed);
        eprintln!(
            "writer: {} ops, {exhausted} waits for a group",
            script.len()
        );
    });
    assert_eq!(lpm.len(), 1);
    assert_eq!(lpm.tbl8_groups_in_use(), 0);
    let n = seen.load(Relaxed);
    eprintln!("readers checked {n} answers");
    assert!(n > 1000, "readers barely ran ({n})");
}
