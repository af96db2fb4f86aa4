//! Frames byte-exact both ways; the learning switch.

use super::*;

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
