//! NAT44 and conntrack per core, driven directly (no ports): new sessions per second with
//! unique flows (parse, lookup miss, mapping, session insert, rewrite, and the aging that keeps
//! the table at its size), and translation of established flows with 1,000,000 sessions in the
//! table (parse, lookup, state/timer update, rewrite). The per-core figures of docs/nat.md.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use burst_port::Nanos;
use burst_stack::conntrack::{Conntrack, ConntrackConfig, Session};
use burst_stack::nat::packet::{self, Shape};
use burst_stack::nat::{Nat, NatConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Datagrams per criterion iteration.
const CHUNK: usize = 1024;
const SESSIONS: usize = 1_000_000;

/// A 64-byte UDP datagram from `src:sport` to `dst:53`.
fn datagram(src: Ipv4Addr, sport: u16, dst: Ipv4Addr) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&64u16.to_be_bytes());
    d[8] = 64;
    d[9] = 17;
    d[12..16].copy_from_slice(&src.octets());
    d[16..20].copy_from_slice(&dst.octets());
    let c = !burst_wire::checksum::sum(&d[..20]);
    d[10..12].copy_from_slice(&c.to_be_bytes());
    d[20..22].copy_from_slice(&sport.to_be_bytes());
    d[22..24].copy_from_slice(&53u16.to_be_bytes());
    d[24..26].copy_from_slice(&44u16.to_be_bytes());
    d
}

fn tables() -> (Conntrack, Nat) {
    let ct = Conntrack::new(
        ConntrackConfig {
            max_sessions: SESSIONS,
            expire_budget: 4 * CHUNK,
            ..Default::default()
        },
        1,
    );
    let nat = Nat::new(
        NatConfig {
            pool: (0..64)
                .map(|i| Ipv4Addr::new(198, 18, 2, 100 + i))
                .collect(),
            max_mappings: SESSIONS,
            ..Default::default()
        },
        1,
        0,
        2,
    );
    (ct, nat)
}

/// One outbound datagram through NAT: a session found, or created with its mapping.
#[inline]
fn translate(ct: &mut Conntrack, nat: &mut Nat, d: &mut [u8], now: Nanos) -> bool {
    let Shape::Flow {
        tuple, tcp_flags, ..
    } = packet::shape(d)
    else {
        return false;
    };
    let (id, dir) = match ct.lookup(&tuple) {
        Some(x) => x,
        None => {
            let Ok((reply, m)) = nat.outbound(&tuple) else {
                return false;
            };
            let Ok(id) = ct.insert(tuple, reply, tcp_flags, now, &mut |s: &Session| {
                nat.release(s)
            }) else {
                return false;
            };
            ct.get_mut(id).marks = m;
            (id, burst_stack::conntrack::Dir::Orig)
        }
    };
    ct.track(id, dir, tcp_flags, now);
    let s = ct.get(id);
    let to = match dir {
        burst_stack::conntrack::Dir::Orig => s.reply.reverse(),
        burst_stack::conntrack::Dir::Reply => s.orig.reverse(),
    };
    packet::rewrite(d, &to);
    true
}

/// The i-th unique flow: 65,536 inside hosts × 1,000 destinations' worth of variety.
fn flow(i: u64) -> [u8; 64] {
    let host = Ipv4Addr::from_bits(0xc612_0000 | (i as u32 & 0xffff));
    let dst = Ipv4Addr::from_bits(0xc613_0000 | ((i >> 16) as u32 & 0xffff));
    datagram(host, 1024 + (i % 60_000) as u16, dst)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("nat");
    g.throughput(Throughput::Elements(CHUNK as u64))
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));

    // New sessions: every datagram a new flow; sessions live 300 s of virtual time and each
    // chunk advances the clock so about SESSIONS/2 are live in steady state (aging included).
    let (mut ct, mut nat) = tables();
    let mut next = 0u64;
    let mut now = Nanos::from_secs(1);
    let step = Nanos(ct.config().udp.0 / (SESSIONS as u64 / 2 / CHUNK as u64));
    g.bench_function("new_sessions", |b| {
        b.iter(|| {
            let mut ok = 0;
            for _ in 0..CHUNK {
                let mut d = flow(next);
                next += 1;
                ok += usize::from(translate(&mut ct, &mut nat, &mut d, now));
            }
            now += step;
            while ct.expire(now, &mut |s: &Session| nat.release(s)) > 0 {}
            black_box(ok)
        })
    });
    eprintln!(
        "new_sessions: {} sessions live, {} refused (full), {} no port",
        ct.len(),
        ct.stats.drop_full,
        nat.stats.drop_no_port
    );

    // Established: 1,000,000 sessions, datagrams of random ones among them.
    let (mut ct, mut nat) = tables();
    let now = Nanos::from_secs(1);
    for i in 0..SESSIONS as u64 {
        let mut d = flow(i);
        assert!(translate(&mut ct, &mut nat, &mut d, now));
    }
    let mut rng = burst_port::clock::SplitMix64::new(5);
    g.bench_function("established_1M", |b| {
        b.iter(|| {
            let mut ok = 0;
            for _ in 0..CHUNK {
                let mut d = flow(rng.below(SESSIONS as u64));
                ok += usize::from(translate(&mut ct, &mut nat, &mut d, now));
            }
            black_box(ok)
        })
    });
    assert_eq!(ct.len(), SESSIONS);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
