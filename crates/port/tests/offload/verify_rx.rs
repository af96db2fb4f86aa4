//! Receive verification: good, bad and unknown verdicts over chained buffers.

use super::*;

fn verdicts(pool: &mut Pool, frame: &[u8], cuts: &[usize]) -> (ChecksumStatus, ChecksumStatus) {
    let mut b = pool.packet(frame, cuts);
    b.set_rx_meta(RxMeta {
        rss_hash: Some(42),
        ..RxMeta::default()
    });
    verify_rx(&mut b);
    let m = b.rx_meta();
    assert_eq!(m.rss_hash, Some(42), "other metadata kept");
    (m.ip_checksum, m.l4_checksum)
}

#[test]
fn verify_rx_good_bad_unknown() {
    use ChecksumStatus::{Bad, Good, Unknown};
    let mut pool = Pool::new();
    let data = payload(1001, 20);
    let (tcpf, _) = tcp_frame(&tcp_repr(1001, Flags::ACK), &data, 1, ChecksumMode::Compute);
    let (udpf, _) = udp_frame(&data, 2, ChecksumMode::Compute);
    for f in [&tcpf, &udpf] {
        assert_eq!(verdicts(&mut pool, f, &[]), (Good, Good));
        // Chained with odd pieces, headers split across segments too.
        assert_eq!(verdicts(&mut pool, f, &[13, 21, 1, 7, 333]), (Good, Good));
        let mut p = f.clone();
        *p.last_mut().unwrap() ^= 0x40;
        assert_eq!(
            verdicts(&mut pool, &p, &[101, 3]),
            (Good, Bad),
            "payload corrupt"
        );
        let mut h = f.clone();
        h[L2 + 8] ^= 1; // TTL
        assert_eq!(
            verdicts(&mut pool, &h, &[]),
            (Bad, Good),
            "IPv4 header corrupt"
        );
    }
    // UDP without checksum.
    let mut z = udpf.clone();
    z[L2 + 20 + 6..L2 + 20 + 8].fill(0);
    assert_eq!(verdicts(&mut pool, &z, &[]), (Good, Good));
    // A fragment: header verified, L4 not.
    let mut frag = udpf.clone();
    let mut ipp = ipv4::Packet::new_unchecked(&mut frag[L2..]);
    ipp.set_flags_and_offset(false, true, 0);
    ipp.fill_checksum();
    assert_eq!(verdicts(&mut pool, &frag, &[]), (Good, Unknown));
    // Not IPv4.
    let mut arp = udpf.clone();
    ethernet::Frame::new_unchecked(&mut arp[..]).set_ethertype(EtherType::ARP);
    assert_eq!(verdicts(&mut pool, &arp, &[]), (Unknown, Unknown));
    // Truncated datagram: L4 cannot be checked.
    assert_eq!(verdicts(&mut pool, &udpf[..200], &[]), (Good, Unknown));
    // Ethernet padding after a short datagram is ignored.
    let (small, _) = udp_frame(b"hi", 3, ChecksumMode::Compute);
    let mut padded = small.clone();
    padded.resize(60, 0);
    assert_eq!(verdicts(&mut pool, &padded, &[]), (Good, Good));
    assert_eq!(pool.live(), 0);
}
