//! The per-core timing wheel: arm + cancel (the common TCP case: a retransmission timer that
//! the ACK cancels) and arm + fire, per timer, with 1 ms ticks.

use std::hint::black_box;

use burst_port::clock::SplitMix64;
use burst_port::Nanos;
use burst_stack::timer::TimerWheel;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const MS: u64 = 1_000_000;
/// Timers per arm + fire batch.
const BATCH: u64 = 1024;

/// A wheel with `n` timers spread over the next hour (so arms share lists with others).
fn loaded(n: usize, rng: &mut SplitMix64) -> TimerWheel<u64> {
    let mut w = TimerWheel::new(n + BATCH as usize, Nanos::from_millis(1), Nanos::ZERO);
    for i in 0..n as u64 {
        w.arm(Nanos(MS + rng.below(3_600_000 * MS)), i).unwrap();
    }
    w
}

fn bench_timer(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer");
    let mut rng = SplitMix64::new(7);

    g.throughput(Throughput::Elements(1));
    let mut w = loaded(65_536, &mut rng);
    g.bench_function("arm_cancel_rto_65k_armed", |b| {
        b.iter(|| {
            // 200 ms .. 60 s: the RTO range (levels 0 and 1).
            let d = Nanos(200 * MS + rng.below(60_000 * MS));
            let id = w.arm(black_box(d), 1).unwrap();
            black_box(w.cancel(id))
        })
    });

    // Arm BATCH timers 1..=256 ms ahead, then advance 1 ms at a time until all fired.
    g.throughput(Throughput::Elements(BATCH));
    let mut w = loaded(65_536, &mut rng);
    let mut now = 0u64;
    g.bench_function("arm_fire_1k_within_256ms_step_1ms", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                w.arm(Nanos(now + MS + rng.below(255 * MS)), i).unwrap();
            }
            let mut sum = 0u64;
            for _ in 0..256 {
                now += MS;
                w.advance(Nanos(now), |_, p| sum += p);
            }
            black_box(sum)
        })
    });

    // Timers spread over 65 s (levels 0..2, most cascade once), fired by one advance.
    g.bench_function("arm_fire_1k_within_65s_one_advance", |b| {
        b.iter_batched_ref(
            || TimerWheel::new(BATCH as usize, Nanos::from_millis(1), Nanos::ZERO),
            |w| {
                for i in 0..BATCH {
                    w.arm(Nanos(MS + rng.below(65_000 * MS)), i).unwrap();
                }
                let mut sum = 0u64;
                w.advance(Nanos(66_000 * MS), |_, p| sum += p);
                black_box(sum)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_timer);
criterion_main!(benches);
