//! Internet checksum throughput at 64, 1472 (a UDP payload in a 1500-byte MTU), 1500 and 9000
//! bytes: the dispatched sum (AVX2 where the CPU has it) aligned and unaligned, the portable loop
//! alone, a textbook loop, and copy-and-sum against a copy followed by a sum.

use std::hint::black_box;

use burst_wire::checksum;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The textbook RFC 1071 loop, one 16-bit word per step: the baseline the fast sum is measured
/// against.
fn naive(bytes: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    let data: Vec<u8> = (0..9001u32).map(|i| (i * 131 % 251) as u8).collect();
    for len in [64usize, 1472, 1500, 9000] {
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("aligned", len), &len, |b, &len| {
            b.iter(|| checksum::checksum(black_box(&data[..len])))
        });
        g.bench_with_input(BenchmarkId::new("unaligned", len), &len, |b, &len| {
            b.iter(|| checksum::checksum(black_box(&data[1..=len])))
        });
        g.bench_with_input(BenchmarkId::new("portable", len), &len, |b, &len| {
            b.iter(|| !checksum::sum_portable(black_box(&data[..len])))
        });
        g.bench_with_input(
            BenchmarkId::new("naive_16bit_reference", len),
            &len,
            |b, &len| b.iter(|| naive(black_box(&data[..len]))),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("copy_sum");
    let mut dst = vec![0u8; 9001];
    for len in [64usize, 1472, 9000] {
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("copy_and_sum", len), &len, |b, &len| {
            b.iter(|| checksum::copy_and_sum(black_box(&mut dst[..len]), black_box(&data[..len])))
        });
        g.bench_with_input(BenchmarkId::new("copy_then_sum", len), &len, |b, &len| {
            b.iter(|| {
                let d = black_box(&mut dst[..len]);
                d.copy_from_slice(black_box(&data[..len]));
                checksum::sum(black_box(&data[..len]))
            })
        });
        g.bench_with_input(BenchmarkId::new("copy_only", len), &len, |b, &len| {
            b.iter(|| black_box(&mut dst[..len]).copy_from_slice(black_box(&data[..len])))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_checksum);
criterion_main!(benches);
