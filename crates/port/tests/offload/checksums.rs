//! Checksums in software equal burst_wire's compute emit; what the port offers is left to the NIC.

use super::*;

#[test]
fn tcp_and_ipv4_checksums_equal_compute_emit() {
    let mut pool = Pool::new();
    let data = payload(1001, 1);
    let t = tcp_repr(data.len(), Flags::ACK | Flags::PSH);
    let (want, _) = tcp_frame(&t, &data, 7, ChecksumMode::Compute);
    let (input, o) = tcp_frame(&t, &data, 7, ChecksumMode::Offload);
    assert_ne!(want, input);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &input, o, &[])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(batch.len(), 1);
    assert_eq!(bytes_of(&batch.as_slice()[0]), want);
    assert!(batch.as_slice()[0].tx_offload().is_empty());
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (1, 1));
    assert_eq!(ready_len(&Capabilities::NONE, &batch), 1);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn chained_odd_segments_equal_compute_emit() {
    let mut pool = Pool::new();
    for (len, cuts) in [
        (1001usize, &[14 + 20 + 8 + 3, 7, 1, 1, 500][..]),
        (999, &[14 + 20 + 8, 1, 2, 3, 5, 8, 13, 21][..]),
        (3000, &[45, 1499, 1][..]),
    ] {
        let data = payload(len, len as u32);
        let (want, _) = udp_frame(&data, 1, ChecksumMode::Compute);
        let (input, o) = udp_frame(&data, 1, ChecksumMode::Offload);
        let t = tcp_repr(len, Flags::ACK);
        let (twant, _) = tcp_frame(&t, &data, 2, ChecksumMode::Compute);
        let (tinput, to) = tcp_frame(&t, &data, 2, ChecksumMode::Offload);
        let mut tcuts = cuts.to_vec();
        tcuts[0] += 24; // the TCP header (with timestamps) is 24 bytes longer than UDP's
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &input, o, cuts)).unwrap();
        batch.push(tagged(&mut pool, &tinput, to, &tcuts)).unwrap();
        assert!(batch.as_slice()[0].nb_segs() > 3);
        let mut st = OffloadStats::default();
        prepare_tx(
            &Capabilities::NONE,
            &mut batch,
            &mut || pool.alloc(),
            &mut st,
        );
        assert_eq!(bytes_of(&batch.as_slice()[0]), want, "udp len {len}");
        assert_eq!(bytes_of(&batch.as_slice()[1]), twant, "tcp len {len}");
        assert_eq!(st.sw_l4_checksums, 2);
    }
    assert_eq!(pool.live(), 0);
}

#[test]
fn udp_checksum_computed_zero_is_sent_as_ffff() {
    let mut pool = Pool::new();
    // Choose the last payload word so the checksum comes out 0: compute with it 0, then set it
    // to the complement of the sum without it.
    let mut data = payload(100, 9);
    data[98] = 0;
    data[99] = 0;
    let (f, _) = udp_frame(&data, 1, ChecksumMode::Compute);
    let c = udp::Packet::new_unchecked(&f[L2 + 20..]).checksum();
    data[98..].copy_from_slice(&c.to_be_bytes());
    let (want, _) = udp_frame(&data, 1, ChecksumMode::Compute);
    assert_eq!(
        udp::Packet::new_unchecked(&want[L2 + 20..]).checksum(),
        0xffff
    );
    let (input, o) = udp_frame(&data, 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &input, o, &[50])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(bytes_of(&batch.as_slice()[0]), want);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn requests_the_port_has_are_left_for_the_nic() {
    let mut pool = Pool::new();
    let data = payload(300, 3);
    let t = tcp_repr(data.len(), Flags::ACK);
    let (input, o) = tcp_frame(&t, &data, 5, ChecksumMode::Offload);
    let (uinput, uo) = udp_frame(&data, 6, ChecksumMode::Offload);
    let (sup, so) = super_segment(&payload(5000, 4), Flags::ACK, 9, 1448);

    // Everything in hardware: nothing changes at all.
    let mut batch = Batch::new();
    for (f, o) in [(&input, o), (&uinput, uo), (&sup, so)] {
        batch.push(tagged(&mut pool, f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::ALL,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st, OffloadStats::default());
    assert_eq!(bytes_of(&batch.as_slice()[0]), input);
    assert_eq!(batch.as_slice()[0].tx_offload(), o);
    assert_eq!(bytes_of(&batch.as_slice()[2]), sup);
    assert_eq!(batch.as_slice()[2].tx_offload(), so);
    batch.clear();

    // IPv4 and UDP in hardware, TCP not: only the TCP checksum is done and its flag cleared.
    let caps = Capabilities {
        tx_ipv4_checksum: true,
        tx_udp_checksum: true,
        ..Capabilities::NONE
    };
    batch.push(tagged(&mut pool, &input, o, &[])).unwrap();
    batch.push(tagged(&mut pool, &uinput, uo, &[])).unwrap();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    let (want, _) = tcp_frame(&t, &data, 5, ChecksumMode::Compute);
    let got = bytes_of(&batch.as_slice()[0]);
    assert_eq!(got[L2 + 20..], want[L2 + 20..], "TCP computed");
    assert_eq!(
        ipv4::Packet::new_unchecked(&got[L2..]).checksum(),
        0,
        "IPv4 left to NIC"
    );
    let left = batch.as_slice()[0].tx_offload();
    assert!(left.ipv4_checksum && left.l4_checksum.is_none());
    assert_eq!(bytes_of(&batch.as_slice()[1]), uinput);
    assert_eq!(batch.as_slice()[1].tx_offload(), uo);
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (0, 1));
    drop(batch);
    assert_eq!(pool.live(), 0);
}
