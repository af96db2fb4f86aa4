//! Software RSS: the Toeplitz hash of an IPv4 4-tuple (table-driven and bit-serial), building a
//! key's table, and picking an ephemeral port whose return traffic lands on a given queue.

use std::hint::black_box;
use std::net::Ipv4Addr;

use burst_port::rss::{self, Reta, Toeplitz, SYMMETRIC_KEY};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench_rss(c: &mut Criterion) {
    let t = Toeplitz::new(&SYMMETRIC_KEY);
    let (src, dst) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 19, 7, 9));
    let mut g = c.benchmark_group("rss");
    g.bench_function("hash_ipv4_l4_table", |b| {
        b.iter(|| {
            t.hash_ipv4_l4(
                black_box(src),
                black_box(dst),
                black_box(40000),
                black_box(80),
            )
        })
    });
    let input = [198u8, 18, 0, 2, 198, 19, 7, 9, 0x9c, 0x40, 0, 80];
    g.bench_function("toeplitz_no_table", |b| {
        b.iter(|| rss::toeplitz(black_box(&SYMMETRIC_KEY), black_box(&input)))
    });
    g.bench_function("table_build", |b| {
        b.iter(|| Toeplitz::new(black_box(&SYMMETRIC_KEY)))
    });
    let reta = Reta::new(4);
    let mut start = 1024u16;
    g.bench_function("pick_source_port_4_queues", |b| {
        b.iter(|| {
            let p = t
                .pick_source_port(&reta, 2, src, dst, 80, 1024..=65535, start, |_| true)
                .unwrap();
            start = if p == 65535 { 1024 } else { p + 1 };
            p
        })
    });
    g.finish();
}

criterion_group!(benches, bench_rss);
criterion_main!(benches);
