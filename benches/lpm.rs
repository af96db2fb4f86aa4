//! DIR-24-8 LPM lookups: one route vs 1,000,000 (BGP-like length mix), single lookups vs bulks
//! of 4 and 8 with and without prefetching, random destinations (and destinations inside
//! prefixes longer than /24, and in a few /24s whose entries stay cached).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use burst_port::clock::SplitMix64;
use burst_stack::route::{Lpm, LpmReader};
use burst_wire::ipv4::Cidr;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_epoch::Guard;

/// Lookups per criterion iteration.
const CHUNK: usize = 1024;

/// 1M distinct prefixes: 55% /24, 35% /8–/23 (geometric, mostly /22–/23), 10% /25–/32.
fn million_routes(rng: &mut SplitMix64) -> (Lpm, Vec<Cidr>) {
    let mut lpm = Lpm::new(110_000);
    let mut deep = Vec::new();
    let mut n = 0u32;
    while n < 1_000_000 {
        let roll = rng.below(100);
        let len = if roll < 55 {
            24
        } else if roll < 90 {
            23 - (rng.next_u64().leading_zeros() as u8).min(15)
        } else {
            25 + rng.below(8) as u8
        };
        let p = Cidr::new(Ipv4Addr::from_bits(rng.next_u64() as u32), len)
            .unwrap()
            .network();
        if lpm.get(p).is_some() {
            continue;
        }
        lpm.add(p, n + 1).unwrap();
        if len > 24 {
            deep.push(p);
        }
        n += 1;
    }
    (lpm, deep)
}

fn run(c: &mut Criterion, name: &str, reader: &LpmReader, addrs: &[Ipv4Addr]) {
    let mut g = c.benchmark_group(format!("lpm/{name}"));
    g.throughput(Throughput::Elements(CHUNK as u64))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    // Workers pin once per burst; here once for the whole run.
    let guard = reader.domain().pin();
    let chunks: Vec<&[Ipv4Addr]> = addrs.chunks_exact(CHUNK).collect();
    let mut i = 0;
    g.bench_function("single", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            let mut acc = 0u32;
            for &a in chunks[i] {
                acc = acc.wrapping_add(reader.lookup(a, &guard).unwrap_or(0));
            }
            black_box(acc)
        })
    });
    g.bench_function("bulk4", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            let mut acc = 0u32;
            for q in chunks[i].chunks_exact(4) {
                let q: &[Ipv4Addr; 4] = q.try_into().unwrap();
                for r in reader.lookup_bulk(q, &guard) {
                    acc = acc.wrapping_add(r.unwrap_or(0));
                }
            }
            black_box(acc)
        })
    });
    g.bench_function("bulk8", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            let mut acc = 0u32;
            for q in chunks[i].chunks_exact(8) {
                let q: &[Ipv4Addr; 8] = q.try_into().unwrap();
                for r in reader.lookup_bulk(q, &guard) {
                    acc = acc.wrapping_add(r.unwrap_or(0));
                }
            }
            black_box(acc)
        })
    });
    // Software pipeline: prefetch the next 8 destinations' first-level entries, then resolve
    // the current 8 (what a worker can do with the next burst while finishing this one).
    g.bench_function("bulk8_prefetch_next", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            let mut acc = 0u32;
            let c = chunks[i];
            for k in (0..c.len()).step_by(8) {
                if let Some(next) = c.get(k + 8..k + 16) {
                    next.iter().for_each(|&a| reader.prefetch(a));
                }
                let q: &[Ipv4Addr; 8] = c[k..k + 8].try_into().unwrap();
                for r in reader.lookup_bulk(q, &guard) {
                    acc = acc.wrapping_add(r.unwrap_or(0));
                }
            }
            black_box(acc)
        })
    });
    // Deeper pipelines: prefetch the destinations 32 and 64 ahead (a worker that has the next
    // one or two bursts' destinations in hand), and a whole 32-destination burst prefetched
    // before its first lookup (what a worker can do within one rx burst).
    g.bench_function("bulk8_prefetch_32_ahead", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            black_box(pipelined::<32>(reader, chunks[i], &guard))
        })
    });
    g.bench_function("bulk8_prefetch_64_ahead", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            black_box(pipelined::<64>(reader, chunks[i], &guard))
        })
    });
    g.bench_function("burst32_prefetched", |b| {
        b.iter(|| {
            i = (i + 1) % chunks.len();
            let mut acc = 0u32;
            for burst in chunks[i].chunks_exact(32) {
                burst.iter().for_each(|&a| reader.prefetch(a));
                for q in burst.chunks_exact(8) {
                    let q: &[Ipv4Addr; 8] = q.try_into().unwrap();
                    for r in reader.lookup_bulk(q, &guard) {
                        acc = acc.wrapping_add(r.unwrap_or(0));
                    }
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

/// Bulks of 8, the destinations `AHEAD` places later prefetched first.
fn pipelined<const AHEAD: usize>(reader: &LpmReader, c: &[Ipv4Addr], guard: &Guard) -> u32 {
    let mut acc = 0u32;
    c[..AHEAD].iter().for_each(|&a| reader.prefetch(a));
    for k in (0..c.len()).step_by(8) {
        if let Some(next) = c.get(k + AHEAD..k + AHEAD + 8) {
            next.iter().for_each(|&a| reader.prefetch(a));
        }
        let q: &[Ipv4Addr; 8] = c[k..k + 8].try_into().unwrap();
        for r in reader.lookup_bulk(q, guard) {
            acc = acc.wrapping_add(r.unwrap_or(0));
        }
    }
    acc
}

fn bench_lpm(c: &mut Criterion) {
    let mut rng = SplitMix64::new(0x05ee_d1b9);
    let random: Vec<Ipv4Addr> = (0..1 << 20)
        .map(|_| Ipv4Addr::from_bits(rng.next_u64() as u32))
        .collect();

    // Construction: the 64 MiB first level and a 1024-group pool (zeroed, left to the
    // kernel to fault in).
    c.bench_function("lpm/new_1024_groups", |b| {
        b.iter(|| black_box(Lpm::new(1024)))
    });

    let mut one = Lpm::new(16);
    one.add("198.18.0.0/15".parse().unwrap(), 1).unwrap();
    run(c, "1_route/random", &one.reader(), &random);
    drop(one);

    let t = Instant::now();
    let (big, deep) = million_routes(&mut rng);
    eprintln!(
        "built 1M routes in {:?} ({} tbl8 groups)",
        t.elapsed(),
        big.tbl8_groups_in_use()
    );
    run(c, "1M_routes/random", &big.reader(), &random);
    // Destinations inside prefixes longer than /24: every lookup takes both levels.
    let in_deep: Vec<Ipv4Addr> = (0..1 << 20)
        .map(|_| {
            let p = deep[rng.below(deep.len() as u64) as usize];
            let host = rng.next_u64() as u32 & !p.mask_u32();
            Ipv4Addr::from_bits(p.address().to_bits() | host)
        })
        .collect();
    run(c, "1M_routes/in_long_prefixes", &big.reader(), &in_deep);
    // Destinations in 256 /24s: their first-level entries stay in the L1 cache, so this is a
    // lookup's cost without memory misses (the reference for the random case).
    let hot: Vec<u32> = (0..256).map(|_| rng.next_u64() as u32 & !0xff).collect();
    let in_hot: Vec<Ipv4Addr> = (0..1 << 20)
        .map(|_| {
            let net = hot[rng.below(hot.len() as u64) as usize];
            Ipv4Addr::from_bits(net | (rng.next_u64() as u32 & 0xff))
        })
        .collect();
    run(c, "1M_routes/in_256_24s", &big.reader(), &in_hot);
}

criterion_group!(benches, bench_lpm);
criterion_main!(benches);
