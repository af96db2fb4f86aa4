//! The in-memory backend end to end: mem ports on a virtual wire, real frames, a virtual
//! clock, seeded impairments. Every test ends with the pool back at its starting occupancy.

use core::net::Ipv4Addr;

use burst_port::buf::{ChecksumStatus, L4Checksum, PacketType};
use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{
    Impairments, LinkCounters, MemBuf, MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig,
    DEFAULT_BUF_SIZE,
};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue, TxOffload};
use burst_wire::ethernet::{self, EtherType, MacAddr, VlanTag};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumMode};

const MAC: [MacAddr; 3] = [
    MacAddr::new(0x02, 0, 0, 0, 0, 1),
    MacAddr::new(0x02, 0, 0, 0, 0, 2),
    MacAddr::new(0x02, 0, 0, 0, 0, 3),
];
const IP: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 1),
    Ipv4Addr::new(198, 18, 0, 2),
    Ipv4Addr::new(198, 18, 0, 3),
];
/// Ethernet + IPv4 + UDP headers.
const HDRS: usize = 14 + 20 + 8;

/// Bytes of a UDP frame from station `s` to station `d` whose payload starts with `seq` and is
/// `payload` bytes long (at least 4).
fn udp_bytes(s: usize, d: usize, seq: u32, payload: usize, mode: ChecksumMode) -> Vec<u8> {
    udp_bytes_to(MAC[s], MAC[d], IP[s], IP[d], seq, payload, mode)
}

fn udp_bytes_to(
    smac: MacAddr,
    dmac: MacAddr,
    sip: Ipv4Addr,
    dip: Ipv4Addr,
    seq: u32,
    payload: usize,
    mode: ChecksumMode,
) -> Vec<u8> {
    let mut b = vec![0u8; HDRS + payload];
    for (i, x) in b[HDRS..].iter_mut().enumerate() {
        *x = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
    b[HDRS..HDRS + 4].copy_from_slice(&seq.to_be_bytes());
    ethernet::Repr {
        src_addr: smac,
        dst_addr: dmac,
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut b[..]));
    udp::Repr {
        src_port: 40000 + (seq % 7) as u16,
        dst_port: 9,
        payload_len: payload,
    }
    .emit(
        &mut udp::Packet::new_unchecked(&mut b[34..]),
        sip,
        dip,
        mode,
    );
    ipv4::Repr::new(sip, dip, Protocol::UDP, 8 + payload, 64)
        .emit(&mut ipv4::Packet::new_unchecked(&mut b[14..]), mode);
    b
}

fn bytes(b: &MemBuf) -> Vec<u8> {
    let mut v = vec![0u8; b.pkt_len()];
    b.copy_to(&mut v);
    v
}

fn seq_of(b: &MemBuf) -> u32 {
    let mut s = [0u8; 4];
    assert!(b.read_at(HDRS, &mut s));
    u32::from_be_bytes(s)
}

fn cfg(i: usize) -> MemPortConfig {
    MemPortConfig::new(&format!("m{i}"), MAC[i])
}

/// A wire, one pool, ports on it and queue 0 of each.
struct Net {
    clock: VirtualClock,
    wire: Wire,
    pool: MemPool,
    ports: Vec<MemPort>,
    q: Vec<MemQueue>,
    start_in_use: usize,
}

impl Net {
    fn new(wcfg: WireConfig, ports: Vec<MemPortConfig>, pool: MemPool) -> Net {
        let clock = VirtualClock::new();
        let wire = Wire::new(&clock, wcfg);
        let mut ports: Vec<MemPort> = ports
            .into_iter()
            .map(|c| MemPort::new(&wire, &pool, c))
            .collect();
        let q = ports.iter_mut().map(|p| p.take_queue(0).unwrap()).collect();
        let start_in_use = pool.in_use();
        Net {
            clock,
            wire,
            pool,
            ports,
            q,
            start_in_use,
        }
    }

    fn pair() -> Net {
        Net::new(
            WireConfig::default(),
            vec![cfg(0), cfg(1)],
            MemPool::new(1024, DEFAULT_BUF_SIZE),
        )
    }

    fn buf(&self, bytes: &[u8]) -> MemBuf {
        self.pool.alloc_from(bytes).unwrap()
    }

    /// Transmits on port `i`; returns how many the queue took (the rest are freed).
    fn send(&mut self, i: usize, frames: Vec<MemBuf>) -> usize {
        let mut taken = 0;
        let mut it = frames.into_iter().peekable();
        while it.peek().is_some() {
            let mut b = Batch::new();
            while !b.is_full() {
                match it.next() {
                    Some(f) => b.push(f).unwrap(),
                    None => break,
                }
            }
            let want = b.len();
            let n = self.q[i].tx_burst(&mut b);
            taken += n;
            if n < want {
                break;
            }
        }
        taken
    }

    /// Everything port `i`'s queue 0 can receive now.
    fn recv(&mut self, i: usize) -> Vec<MemBuf> {
        let mut out = Vec::new();
        loop {
            let mut b = Batch::new();
            if self.q[i].rx_burst(&mut b) == 0 {
                return out;
            }
            out.extend(b.drain(..));
        }
    }

    /// Runs the wire to completion, collecting what port `i` receives with arrival times.
    fn run(&mut self, i: usize) -> Vec<(Nanos, MemBuf)> {
        let mut out = Vec::new();
        loop {
            let now = self.clock.now();
            out.extend(self.recv(i).into_iter().map(|b| (now, b)));
            match self.wire.next_event() {
                Some(t) => self.clock.advance_to(t),
                None => return out,
            }
        }
    }

    /// The per-direction invariant, and no leak once the caller dropped its buffers.
    fn check(&self) {
        let in_flight = self.wire.in_flight() as u64;
        let t = self.wire.total_counters();
        assert_eq!(
            t.sent + t.duplicated + t.flooded,
            t.delivered + t.dropped() + in_flight,
            "{t:?}"
        );
        assert_eq!(self.pool.in_use(), self.start_in_use, "leaked buffers");
    }
}

#[test]
fn frames_arrive_byte_exact_both_ways() {
    let mut n = Net::pair();
    let sizes = [18usize, 46, 100, 1000, 1472];
    let ab: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| udp_bytes(0, 1, i as u32, s, ChecksumMode::Compute))
        .collect();
    let ba: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| udp_bytes(1, 0, 100 + i as u32, s, ChecksumMode::Compute))
        .collect();
    let fa = ab.iter().map(|b| n.buf(b)).collect();
    let fb = ba.iter().map(|b| n.buf(b)).collect();
    assert_eq!(n.send(0, fa), 5);
    assert_eq!(n.send(1, fb), 5);
    assert_eq!(n.pool.in_use(), 10, "buffers travel without copies");
    let at_b: Vec<Vec<u8>> = n.recv(1).iter().map(bytes).collect();
    let at_a: Vec<Vec<u8>> = n.recv(0).iter().map(bytes).collect();
    assert_eq!(at_b, ab);
    assert_eq!(at_a, ba);
    let total: u64 = ab.iter().map(|b| b.len() as u64).sum();
    let (sa, sb) = (n.ports[0].stats(), n.ports[1].stats());
    assert_eq!(
        (sa.tx_packets, sa.tx_bytes, sb.rx_packets, sb.rx_bytes),
        (5, total, 5, total)
    );
    let c = n.wire.counters(0);
    assert_eq!((c.sent, c.delivered, c.dropped()), (5, 5, 0));
    assert!(n.ports[1]
        .xstats()
        .contains(&("wire_delivered".to_string(), 5)));
    assert_eq!(n.ports[0].info().driver, "mem");
    assert!(n.ports[0].link().up);
    n.check();
}

#[test]
fn learning_switch_floods_unknown_then_forwards() {
    let mut c2 = cfg(2);
    c2.promiscuous = false;
    let mut n = Net::new(
        WireConfig {
            switch: true,
            ..WireConfig::default()
        },
        vec![cfg(0), cfg(1), c2],
        MemPool::new(64, DEFAULT_BUF_SIZE),
    );
    // A → B, B unknown: flooded to B and C; C (not promiscuous) filters B's unicast.
    let f = n.buf(&udp_bytes(0, 1, 1, 32, ChecksumMode::Compute));
    n.send(0, vec![f]);
    assert_eq!(n.recv(1).len(), 1);
    assert_eq!(n.recv(2).len(), 0);
    let c = n.wire.counters(0);
    assert_eq!((c.flooded, c.delivered, c.dropped_filtered), (1, 1, 1));
    // B → A: A was learned, so only A gets it.
    let f = n.buf(&udp_bytes(1, 0, 2, 32, ChecksumMode::Compute));
    n.send(1, vec![f]);
    assert_eq!(n.recv(0).iter().map(seq_of).collect::<Vec<_>>(), [2]);
    assert_eq!(n.wire.counters(1).flooded, 0);
    // A → B again: B is learned now.
    let f = n.buf(&udp_bytes(0, 1, 3, 32, ChecksumMode::Compute));
    n.send(0, vec![f]);
    assert_eq!(n.recv(1).iter().map(seq_of).collect::<Vec<_>>(), [3]);
    assert_eq!(n.wire.counters(0).flooded, 1);
    // Broadcast from C reaches A and B (and teaches the switch where C is).
    let bc = udp_bytes_to(
        MAC[2],
        MacAddr::BROADCAST,
        IP[2],
        IP[0],
        4,
        32,
        ChecksumMode::Compute,
    );
    let f = n.buf(&bc);
    n.send(2, vec![f]);
    assert_eq!(
        n.recv(0).iter().map(bytes).collect::<Vec<_>>(),
        std::slice::from_ref(&bc)
    );
    assert_eq!(n.recv(1).iter().map(bytes).collect::<Vec<_>>(), [bc]);
    // To C now (learned from its broadcast): only C, and C accepts its own MAC.
    let f = n.buf(&udp_bytes(0, 2, 5, 32, ChecksumMode::Compute));
    n.send(0, vec![f]);
    assert_eq!(n.recv(2).len(), 1);
    assert_eq!(n.recv(1).len(), 0);
    n.check();
}

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

#[test]
fn bounded_egress_queue_tail_drops() {
    let mut n = Net::pair();
    n.wire.set_impairments(
        0,
        Impairments {
            rate_bps: Some(1_000_000_000),
            queue_packets: Some(8),
            ..Impairments::NONE
        },
    );
    let frames = (0..20)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 1500 - HDRS, ChecksumMode::Compute)))
        .collect();
    assert_eq!(
        n.send(0, frames),
        20,
        "the tx ring takes them; the link queue drops"
    );
    let c = n.wire.counters(0);
    assert_eq!((c.sent, c.dropped_queue_full), (20, 12));
    // After 2 frame times two slots are free again.
    n.clock.advance(Nanos::from_micros(24));
    let frames = (20..25)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 1500 - HDRS, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    assert_eq!(n.wire.counters(0).dropped_queue_full, 15);
    let got: Vec<u32> = n.run(1).iter().map(|(_, b)| seq_of(b)).collect();
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 7, 20, 21]);

    // A byte limit: 4000 bytes hold two 1500-byte frames.
    n.wire.set_impairments(
        0,
        Impairments {
            rate_bps: Some(1_000_000_000),
            queue_bytes: Some(4000),
            ..Impairments::NONE
        },
    );
    let frames = (0..5)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 1500 - HDRS, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    assert_eq!(n.wire.counters(0).dropped_queue_full, 18);
    assert_eq!(n.run(1).len(), 2);
    n.check();
}

#[test]
fn tx_ring_pushes_back_while_the_link_is_busy() {
    let mut a = cfg(0);
    a.tx_ring = 16;
    let mut n = Net::new(
        WireConfig::default(),
        vec![a, cfg(1)],
        MemPool::new(256, DEFAULT_BUF_SIZE),
    );
    n.wire.set_impairments(
        0,
        Impairments {
            rate_bps: Some(1_000_000_000),
            ..Impairments::NONE
        },
    );
    let mut b = Batch::new();
    for s in 0..32 {
        b.push(n.buf(&udp_bytes(0, 1, s, 1500 - HDRS, ChecksumMode::Compute)))
            .unwrap();
    }
    assert_eq!(n.q[0].tx_burst(&mut b), 16);
    assert_eq!(b.len(), 16, "the rest stay with the caller");
    assert_eq!(n.q[0].tx_burst(&mut b), 0);
    n.clock.advance(Nanos::from_micros(12));
    assert_eq!(
        n.q[0].tx_burst(&mut b),
        1,
        "one frame time frees one descriptor"
    );
    assert_eq!(seq_of(&b.as_slice()[0]), 17);
    drop(b);
    assert_eq!(n.run(1).len(), 17);
    assert_eq!(n.wire.counters(0).dropped(), 0);
    n.check();
}

#[test]
fn mtu_limits_on_port_and_wire() {
    let mut n = Net::pair();
    // Port MTU 1500: a 1514-byte frame passes, 1515 is a tx error; with a VLAN tag 1518 passes.
    let ok = udp_bytes(0, 1, 1, 1500 - 28, ChecksumMode::Compute);
    let long = udp_bytes(0, 1, 2, 1501 - 28, ChecksumMode::Compute);
    let mut tagged = vec![0u8; 1518];
    ethernet::Repr {
        src_addr: MAC[0],
        dst_addr: MAC[1],
        vlan: Some(VlanTag::from_tci(7)),
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut tagged[..]));
    let frames = vec![n.buf(&ok), n.buf(&long), n.buf(&tagged)];
    assert_eq!(n.send(0, frames), 3);
    assert_eq!(n.ports[0].stats().tx_errors, 1);
    assert_eq!(
        n.recv(1).iter().map(PacketBuf::pkt_len).collect::<Vec<_>>(),
        [1514, 1518]
    );

    // Wire MTU 1000 (a narrower link in between): IP packets of 1001 bytes are dropped.
    n.wire.set_impairments(
        0,
        Impairments {
            mtu: Some(1000),
            ..Impairments::NONE
        },
    );
    let frames = vec![
        n.buf(&udp_bytes(0, 1, 3, 1000 - 28, ChecksumMode::Compute)),
        n.buf(&udp_bytes(0, 1, 4, 1001 - 28, ChecksumMode::Compute)),
    ];
    n.send(0, frames);
    assert_eq!(n.recv(1).iter().map(seq_of).collect::<Vec<_>>(), [3]);
    assert_eq!(n.wire.counters(0).dropped_mtu, 1);
    n.check();

    // A receiver with a smaller MTU drops what is too long for it (rx_errors).
    let mut small = cfg(2);
    small.mtu = 576;
    let mut n = Net::new(
        WireConfig::default(),
        vec![cfg(0), small],
        MemPool::new(16, DEFAULT_BUF_SIZE),
    );
    let frames = vec![
        n.buf(&udp_bytes(0, 1, 1, 576 - 28, ChecksumMode::Compute)),
        n.buf(&udp_bytes(0, 1, 2, 577 - 28, ChecksumMode::Compute)),
    ];
    n.send(0, frames);
    assert_eq!(n.recv(1).len(), 1);
    assert_eq!(n.ports[1].stats().rx_errors, 1);
    assert_eq!(n.wire.counters(0).dropped_rx_oversize, 1);
    n.check();
}

#[test]
fn chains_travel_intact_and_verify_across_segments() {
    let mut a = cfg(0);
    a.caps.tx_multi_seg = true;
    let mut b = cfg(1);
    b.caps = Capabilities {
        rx_ipv4_checksum: true,
        rx_l4_checksum: true,
        ..Capabilities::NONE
    };
    let mut n = Net::new(WireConfig::default(), vec![a, b], MemPool::new(64, 512));
    let f = udp_bytes(0, 1, 1, 1400, ChecksumMode::Compute);
    let buf = n.buf(&f);
    // 384 bytes in the head (512 - 128 headroom), 512 in each continuation.
    assert_eq!(buf.nb_segs(), 4);
    n.send(0, vec![buf]);
    let got = n.recv(1);
    assert_eq!(got[0].nb_segs(), 4);
    assert_eq!(bytes(&got[0]), f);
    let m = got[0].rx_meta();
    assert_eq!(
        (m.ip_checksum, m.l4_checksum),
        (ChecksumStatus::Good, ChecksumStatus::Good)
    );
    drop(got);
    // Split at odd offsets inside the UDP header and payload: still verifies.
    let mut head = n.pool.alloc().unwrap();
    head.append(37).unwrap().copy_from_slice(&f[..37]);
    let mut mid = n.pool.alloc().unwrap();
    mid.append(101).unwrap().copy_from_slice(&f[37..138]);
    let tail = n.pool.alloc_from(&f[138..]).unwrap();
    head.chain(mid).unwrap();
    head.chain(tail).unwrap();
    n.send(0, vec![head]);
    let got = n.recv(1);
    assert_eq!(bytes(&got[0]), f);
    assert_eq!(got[0].rx_meta().l4_checksum, ChecksumStatus::Good);
    drop(got);
    n.check();
}

#[test]
fn checksum_offload_by_the_nic_or_in_software_gives_the_same_bytes() {
    let rx = Capabilities {
        rx_ipv4_checksum: true,
        rx_l4_checksum: true,
        ..Capabilities::NONE
    };
    let want = udp_bytes(0, 1, 5, 300, ChecksumMode::Compute);
    for tx in [Capabilities::NONE, Capabilities::ALL] {
        let mut a = cfg(0);
        a.caps = tx;
        let mut b = cfg(1);
        b.caps = rx;
        let mut n = Net::new(
            WireConfig::default(),
            vec![a, b],
            MemPool::new(16, DEFAULT_BUF_SIZE),
        );
        let mut f = n.buf(&udp_bytes(0, 1, 5, 300, ChecksumMode::Offload));
        f.set_tx_offload(TxOffload {
            l2_len: 14,
            l3_len: 20,
            ipv4_checksum: true,
            l4_checksum: Some(L4Checksum::Udp),
            ..TxOffload::default()
        });
        n.send(0, vec![f]);
        let got = n.recv(1);
        assert_eq!(bytes(&got[0]), want, "caps {tx:?}");
        let m = got[0].rx_meta();
        assert_eq!(
            (m.ip_checksum, m.l4_checksum),
            (ChecksumStatus::Good, ChecksumStatus::Good)
        );
        assert_eq!(
            got[0].tx_offload(),
            TxOffload::default(),
            "rx buffers carry no tx request"
        );
        drop(got);
        n.check();
    }
}

#[test]
fn a_port_without_rx_offloads_reports_nothing() {
    let mut n = Net::pair();
    let f = n.buf(&udp_bytes(0, 1, 1, 64, ChecksumMode::Compute));
    n.send(0, vec![f]);
    let got = n.recv(1);
    let m = got[0].rx_meta();
    assert_eq!(m, Default::default());
    drop(got);
    n.check();
}

#[test]
fn full_rx_ring_and_full_wire_drop_and_count() {
    let mut b = cfg(1);
    b.rx_ring = 8;
    let mut n = Net::new(
        WireConfig {
            capacity: 12,
            ..WireConfig::default()
        },
        vec![cfg(0), b],
        MemPool::new(64, DEFAULT_BUF_SIZE),
    );
    n.wire.set_impairments(
        0,
        Impairments {
            delay: Nanos::from_micros(1),
            ..Impairments::NONE
        },
    );
    let frames = (0..20)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
        .collect();
    assert_eq!(n.send(0, frames), 20);
    assert_eq!(n.wire.in_flight(), 12);
    assert_eq!(n.wire.counters(0).dropped_wire_full, 8);
    // Nobody polls port 1 while the frames land: 8 fit its ring, 4 are missed.
    assert_eq!(n.wire.advance(), Some(Nanos::from_micros(1)));
    assert_eq!(n.ports[1].stats().rx_missed, 4);
    assert_eq!(n.wire.counters(0).dropped_rx_full, 4);
    assert_eq!(n.recv(1).len(), 8);
    n.check();
}

#[test]
fn clear_frees_frames_in_flight_and_in_rings() {
    let mut n = Net::pair();
    n.wire.set_impairments(
        0,
        Impairments {
            delay: Nanos::from_millis(1),
            ..Impairments::NONE
        },
    );
    let frames = (0..6)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    let frames = (0..3)
        .map(|s| n.buf(&udp_bytes(1, 0, s, 64, ChecksumMode::Compute)))
        .collect();
    n.send(1, frames);
    n.wire.deliver_due();
    assert_eq!(n.pool.in_use(), 9);
    assert_eq!(n.wire.clear(), 9);
    assert_eq!(n.pool.in_use(), 0);
}

#[test]
fn several_queues_take_every_frame_once() {
    let mut b = cfg(1);
    b.queues = 4;
    b.caps.rss = true;
    let mut n = Net::new(
        WireConfig::default(),
        vec![cfg(0), b],
        MemPool::new(256, DEFAULT_BUF_SIZE),
    );
    let mut extra: Vec<MemQueue> = (1..4).map(|i| n.ports[1].take_queue(i).unwrap()).collect();
    assert!(n.ports[1].take_queue(0).is_none(), "each queue once");
    assert!(n.ports[1].take_queue(4).is_none(), "out of range");
    let frames = (0..100)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    let mut seen = n.recv(1).iter().map(seq_of).collect::<Vec<_>>();
    for q in &mut extra {
        let mut bt = Batch::new();
        while q.rx_burst(&mut bt) > 0 {
            seen.extend(bt.iter().map(seq_of));
            bt.clear();
        }
        assert_eq!(q.caps(), n.ports[1].info().caps);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    n.check();
}

#[test]
fn queues_work_from_other_threads() {
    let mut n = Net::pair();
    let mut qa = n.q.remove(0);
    let mut qb = n.q.remove(0);
    let pool = n.pool.clone();
    let sender = std::thread::spawn(move || {
        for s in 0..500u32 {
            let mut b = Batch::new();
            b.push(
                pool.alloc_from(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute))
                    .unwrap(),
            )
            .unwrap();
            // Bounded: the tx ring is 1024 and nothing limits the rate.
            assert_eq!(qa.tx_burst(&mut b), 1);
        }
    });
    sender.join().unwrap();
    let receiver = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut b = Batch::new();
        while qb.rx_burst(&mut b) > 0 {
            got.extend(b.iter().map(seq_of));
            b.clear();
        }
        got
    });
    assert_eq!(receiver.join().unwrap(), (0..500).collect::<Vec<_>>());
    assert_eq!(n.pool.in_use(), n.start_in_use);
}

#[test]
fn rss_spreads_flows_over_queues() {
    let mut b = cfg(1);
    b.queues = 4;
    b.caps.rss = true;
    let mut n = Net::new(
        WireConfig::default(),
        vec![cfg(0), b],
        MemPool::new(512, DEFAULT_BUF_SIZE),
    );
    let mut qs: Vec<MemQueue> = vec![n.q.remove(1)];
    qs.extend((1..4).map(|i| n.ports[1].take_queue(i).unwrap()));
    let frames = (0..200)
        .map(|s| n.buf(&udp_bytes(0, 1, s, 64, ChecksumMode::Compute)))
        .collect();
    n.send(0, frames);
    let mut per_q = [0usize; 4];
    let mut flow_q = std::collections::HashMap::new();
    for (i, q) in qs.iter_mut().enumerate() {
        let mut bt = Batch::new();
        while q.rx_burst(&mut bt) > 0 {
            for f in bt.iter() {
                per_q[i] += 1;
                assert!(f.rx_meta().rss_hash.is_some());
                let sport = u16::from_be_bytes([f.data()[34], f.data()[35]]);
                assert_eq!(*flow_q.entry(sport).or_insert(i), i, "one flow, one queue");
            }
            bt.clear();
        }
    }
    println!("per queue {per_q:?}");
    assert_eq!(per_q.iter().sum::<usize>(), 200);
    assert!(per_q.iter().filter(|&&c| c > 0).count() >= 2, "{per_q:?}");
    drop(qs);
    assert_eq!(n.pool.in_use(), n.start_in_use);
}

#[test]
fn tso_by_nic_or_software_gives_same_segments() {
    use burst_wire::{checksum, tcp};
    let payload = 3500usize;
    let mut f = vec![0u8; 14 + 40 + payload];
    for (i, x) in f[54..].iter_mut().enumerate() {
        *x = (i * 13) as u8;
    }
    ethernet::Repr {
        src_addr: MAC[0],
        dst_addr: MAC[1],
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    ipv4::Repr::new(IP[0], IP[1], Protocol::TCP, 20 + payload, 64).emit(
        &mut ipv4::Packet::new_unchecked(&mut f[14..]),
        ChecksumMode::Offload,
    );
    {
        let mut t = tcp::Packet::new_unchecked(&mut f[34..]);
        t.set_src_port(40000);
        t.set_dst_port(80);
        t.set_seq_number(tcp::SeqNumber(1000));
        t.set_header_len(20);
        t.set_flags(tcp::Flags::ACK | tcp::Flags::PSH);
        t.set_window_len(1000);
        t.set_checksum(checksum::pseudo_header(IP[0], IP[1], 6, 0));
    }
    let mut outs = Vec::new();
    for tx in [Capabilities::NONE, Capabilities::ALL] {
        let mut a = cfg(0);
        a.caps = tx;
        let mut b = cfg(1);
        b.caps = Capabilities {
            rx_ipv4_checksum: true,
            rx_l4_checksum: true,
            ..Capabilities::NONE
        };
        let mut n = Net::new(
            WireConfig::default(),
            vec![a, b],
            MemPool::new(64, DEFAULT_BUF_SIZE),
        );
        let mut buf = n.buf(&f);
        buf.set_tx_offload(TxOffload {
            l2_len: 14,
            l3_len: 20,
            l4_len: 20,
            ipv4_checksum: true,
            l4_checksum: Some(L4Checksum::Tcp),
            tso_segsz: 1000,
        });
        assert_eq!(n.send(0, vec![buf]), 1);
        let got = n.recv(1);
        for g in &got {
            let m = g.rx_meta();
            assert_eq!(
                (m.ip_checksum, m.l4_checksum),
                (ChecksumStatus::Good, ChecksumStatus::Good)
            );
        }
        outs.push(got.iter().map(bytes).collect::<Vec<_>>());
        println!(
            "{tx:?}: {:?} xstats {:?}",
            got.iter().map(|g| g.pkt_len()).collect::<Vec<_>>(),
            n.ports[0]
                .xstats()
                .iter()
                .filter(|(k, v)| k.starts_with("offload") && *v > 0)
                .collect::<Vec<_>>()
        );
        drop(got);
        n.check();
    }
    assert_eq!(outs[0].len(), 4);
    assert_eq!(outs[0], outs[1]);
}
