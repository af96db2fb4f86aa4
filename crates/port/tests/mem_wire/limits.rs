//! Bounded egress queues, TX ring back-pressure, MTU limits on port and wire.

use super::*;

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
