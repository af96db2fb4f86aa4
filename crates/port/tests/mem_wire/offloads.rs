//! Chained buffers and checksum offloads: by the NIC or in software, the same bytes.

use super::*;

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
