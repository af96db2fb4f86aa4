//! Seeded impairments: loss, duplication, corruption, reordering, delay and jitter, bandwidth.

use super::*;

/// Sends `count` frames A→B in bursts of 32 every microsecond under `imp`, then runs the wire
/// dry; returns A's direction counters and the sequence numbers B received, in order.
fn impaired_run(imp: Impairments, seed: u64, count: u32) -> (LinkCounters, Vec<u32>) {
    let mut n = Net::new(
        WireConfig {
            seed,
            capacity: 8192,
            ..WireConfig::default()
        },
        vec![cfg(0), cfg(1)],
        MemPool::new(8192, DEFAULT_BUF_SIZE),
    );
    n.wire.set_impairments(0, imp);
    let mut got = Vec::new();
    let mut seq = 0;
    while seq < count {
        let frames = (seq..(seq + 32).min(count))
            .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
            .collect::<Vec<_>>();
        let k = frames.len();
        assert_eq!(n.send(0, frames), k);
        seq += k as u32;
        n.clock.advance(Nanos::from_micros(1));
        got.extend(n.recv(1).iter().map(seq_of));
    }
    got.extend(n.run(1).iter().map(|(_, b)| seq_of(b)));
    n.check();
    (n.wire.counters(0), got)
}

#[test]
fn loss_is_reproducible_and_near_the_rate() {
    let imp = Impairments {
        loss: 0.1,
        ..Impairments::NONE
    };
    let (c1, g1) = impaired_run(imp, 42, 10_000);
    let (c2, g2) = impaired_run(imp, 42, 10_000);
    assert_eq!((c1, &g1), (c2, &g2), "same seed, same run");
    assert!((900..1100).contains(&c1.dropped_loss), "{c1:?}");
    assert_eq!(c1.delivered + c1.dropped_loss, 10_000);
    assert!(g1.windows(2).all(|w| w[0] < w[1]), "loss alone keeps order");
    let (c3, _) = impaired_run(imp, 43, 10_000);
    assert_ne!(c1, c3, "another seed, another run");
}

#[test]
fn duplication_delivers_copies_in_fresh_buffers() {
    let imp = Impairments {
        duplicate: 0.2,
        ..Impairments::NONE
    };
    let (c1, g1) = impaired_run(imp, 7, 5_000);
    assert_eq!(impaired_run(imp, 7, 5_000), (c1, g1.clone()));
    assert!((900..1100).contains(&c1.duplicated), "{c1:?}");
    assert_eq!(c1.delivered, 5_000 + c1.duplicated);
    let dups = g1.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(
        dups, c1.duplicated,
        "each duplicate right after its original"
    );

    // The copy is a separate buffer with the same bytes.
    let mut n = Net::pair();
    n.wire.set_impairments(
        0,
        Impairments {
            duplicate: 1.0,
            ..Impairments::NONE
        },
    );
    let f = udp_bytes(0, 1, 9, 200, ChecksumMode::Compute);
    let b = n.buf(&f);
    n.send(0, vec![b]);
    assert_eq!(n.pool.in_use(), 2);
    let got = n.recv(1);
    assert_eq!(got.iter().map(bytes).collect::<Vec<_>>(), [f.clone(), f]);
    drop(got);
    n.check();
}

#[test]
fn duplicate_without_a_free_buffer_is_counted() {
    let mut n = Net::new(
        WireConfig::default(),
        vec![cfg(0), cfg(1)],
        MemPool::new(1, DEFAULT_BUF_SIZE),
    );
    n.wire.set_impairments(
        0,
        Impairments {
            duplicate: 1.0,
            ..Impairments::NONE
        },
    );
    let b = n.buf(&udp_bytes(0, 1, 1, 20, ChecksumMode::Compute));
    n.send(0, vec![b]);
    assert_eq!(n.recv(1).len(), 1);
    let c = n.wire.counters(0);
    assert_eq!((c.duplicated, c.dropped_no_buffer, c.delivered), (1, 1, 1));
    n.check();
}

#[test]
fn corruption_changes_one_byte_and_rx_checksum_offload_sees_it() {
    let mut b = cfg(1);
    b.caps = Capabilities {
        rx_ipv4_checksum: true,
        rx_l4_checksum: true,
        ..Capabilities::NONE
    };
    let mut n = Net::new(
        WireConfig {
            seed: 5,
            ..WireConfig::default()
        },
        vec![cfg(0), b],
        MemPool::new(256, DEFAULT_BUF_SIZE),
    );
    n.wire.set_impairments(
        0,
        Impairments {
            corrupt: 0.25,
            ..Impairments::NONE
        },
    );
    let template = udp_bytes(0, 1, 77, 200, ChecksumMode::Compute);
    let mut changed = 0;
    for _ in 0..40 {
        let frames = (0..50).map(|_| n.buf(&template)).collect();
        assert_eq!(n.send(0, frames), 50);
        for f in n.recv(1) {
            let got = bytes(&f);
            let diff: Vec<usize> = (0..got.len()).filter(|&i| got[i] != template[i]).collect();
            let m = f.rx_meta();
            match diff[..] {
                [] => {
                    assert_eq!(
                        (m.ip_checksum, m.l4_checksum),
                        (ChecksumStatus::Good, ChecksumStatus::Good)
                    );
                    assert_eq!(m.packet_type, PacketType::Ipv4Udp);
                }
                // Any IPv4 header byte but version/IHL: the header checksum must fail.
                [p] if (15..34).contains(&p) => {
                    changed += 1;
                    assert_eq!(m.ip_checksum, ChecksumStatus::Bad, "byte {p}");
                }
                [p] if p >= 34 => {
                    changed += 1;
                    assert_eq!(m.ip_checksum, ChecksumStatus::Good);
                    assert_eq!(m.l4_checksum, ChecksumStatus::Bad, "byte {p}");
                }
                // Ethernet header or version/IHL: whatever the classifier makes of it.
                [_] => changed += 1,
                _ => panic!("more than one byte changed: {diff:?}"),
            }
        }
    }
    let c = n.wire.counters(0);
    assert_eq!(c.corrupted, changed);
    assert!((400..600).contains(&c.corrupted), "{c:?}");
    n.check();
}

#[test]
fn reordering_holds_frames_back() {
    let imp = Impairments {
        reorder: 0.1,
        reorder_delay: Nanos::from_micros(20),
        ..Impairments::NONE
    };
    let (c, g) = impaired_run(imp, 9, 5_000);
    assert_eq!(impaired_run(imp, 9, 5_000), (c, g.clone()));
    assert!((400..600).contains(&c.reordered), "{c:?}");
    assert_eq!(c.delivered, 5_000);
    let late = g.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(late > 0 && late as u64 <= c.reordered, "{late}");
    let mut sorted = g.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..5_000).collect::<Vec<_>>(),
        "nothing lost or added"
    );
}

#[test]
fn delay_and_jitter_timing_is_exact() {
    let mut n = Net::pair();
    n.wire.set_impairments(
        0,
        Impairments {
            delay: Nanos::from_micros(100),
            ..Impairments::NONE
        },
    );
    let f = n.buf(&udp_bytes(0, 1, 1, 64, ChecksumMode::Compute));
    n.send(0, vec![f]);
    assert_eq!(n.wire.next_event(), Some(Nanos::from_micros(100)));
    n.clock.advance(Nanos(99_999));
    assert!(n.recv(1).is_empty(), "not before its time");
    n.clock.advance(Nanos(1));
    assert_eq!(n.recv(1).len(), 1);
    assert_eq!(n.wire.next_event(), None);

    let delay = Nanos::from_micros(50);
    let jitter = Nanos::from_micros(10);
    n.wire.set_impairments(
        0,
        Impairments {
            delay,
            jitter,
            ..Impairments::NONE
        },
    );
    let t0 = n.clock.now();
    let frames = (0..200)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    let got = n.run(1);
    assert_eq!(got.len(), 200);
    let times: Vec<Nanos> = got.iter().map(|(t, _)| *t - t0).collect();
    assert!(times.iter().all(|&t| t >= delay && t <= delay + jitter));
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "received in time order"
    );
    let spread = times[199] - times[0];
    assert!(spread > Nanos::from_micros(9), "jitter spreads: {spread:?}");
    drop(got);
    n.check();
}

#[test]
fn bandwidth_serializes_frames_exactly() {
    let mut n = Net::pair();
    n.wire.set_impairments(
        0,
        Impairments {
            rate_bps: Some(1_000_000_000),
            delay: Nanos::from_micros(5),
            ..Impairments::NONE
        },
    );
    assert_eq!(n.ports[0].link().speed_mbps, 1000);
    // 1500-byte frames at 1 Gbit/s: 12 µs each, arriving 12 µs apart after 5 µs propagation.
    let frames = (0..10)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 1500 - HDRS, ChecksumMode::Compute)))
        .collect();
    assert_eq!(n.send(0, frames), 10);
    let got = n.run(1);
    let times: Vec<u64> = got.iter().map(|(t, _)| t.0).collect();
    let want: Vec<u64> = (1..=10).map(|k| 5_000 + 12_000 * k).collect();
    assert_eq!(times, want);
    drop(got);
    // 64-byte frames: 512 ns each; the link is idle again, so timing restarts from now.
    let t0 = n.clock.now().0;
    let frames = (0..4)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64 - HDRS, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    let times: Vec<u64> = n.run(1).iter().map(|(t, _)| t.0 - t0).collect();
    assert_eq!(times, [5_512, 6_024, 6_536, 7_048]);
    n.check();
}
