//! Internet checksum throughput at 64, 1500 and 9000 bytes, aligned and unaligned.

use std::hint::black_box;

use burst_wire::checksum;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    let data: Vec<u8> = (0..9001u32).map(|i| (i * 131 % 251) as u8).collect();
    for len in [64usize, 1500, 9000] {
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("aligned", len), &len, |b, &len| {
            b.iter(|| checksum::checksum(black_box(&data[..len])))
        });
        g.bench_with_input(BenchmarkId::new("unaligned", len), &len, |b, &len| {
            b.iter(|| checksum::checksum(black_box(&data[1..=len])))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_checksum);
criterion_main!(benches);
