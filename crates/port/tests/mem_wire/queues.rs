//! Rings and queues: full rings drop and count, clear frees everything, several queues,
//! other threads, RSS, TSO by NIC or software.

use super::*;

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
