//! Property: any payload, any chain split; the transmit driver's fast path and full batches.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_split_equals_compute(
        len in 0usize..3000,
        salt in any::<u32>(),
        cuts in proptest::collection::vec(1usize..700, 0..8),
        is_tcp in any::<bool>(),
    ) {
        let mut pool = Pool::new();
        let data = payload(len, salt);
        let (want, input, o) = if is_tcp {
            let t = tcp_repr(len, Flags::ACK);
            let (w, _) = tcp_frame(&t, &data, 4, ChecksumMode::Compute);
            let (i, o) = tcp_frame(&t, &data, 4, ChecksumMode::Offload);
            (w, i, o)
        } else {
            let (w, _) = udp_frame(&data, 4, ChecksumMode::Compute);
            let (i, o) = udp_frame(&data, 4, ChecksumMode::Offload);
            (w, i, o)
        };
        // Headers stay in the first segment (as DPDK requires); the rest is split anywhere.
        let mut lens = vec![L2 + usize::from(o.l3_len) + 32];
        lens.extend(cuts);
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &input, o, &lens)).unwrap();
        let mut st = OffloadStats::default();
        prepare_tx(&Capabilities::NONE, &mut batch, &mut || pool.alloc(), &mut st);
        prop_assert_eq!(bytes_of(&batch.as_slice()[0]), want.clone());
        let mut b = batch.pop().unwrap();
        verify_rx(&mut b);
        prop_assert_eq!(b.rx_meta().ip_checksum, ChecksumStatus::Good);
        prop_assert_eq!(b.rx_meta().l4_checksum, ChecksumStatus::Good);
        drop(b);
        prop_assert_eq!(pool.live(), 0);
    }

    #[test]
    fn any_tso_split_reassembles(
        len in 1usize..9000,
        mss in 64u16..2000,
        cuts in proptest::collection::vec(1usize..3000, 0..6),
    ) {
        let mut pool = Pool::new();
        let data = payload(len, len as u32);
        let (sup, so) = super_segment(&data, ALL_FLAGS, 0xfffe, mss);
        let mut lens = vec![66];
        lens.extend(cuts);
        let mut batch = Batch::new();
        batch.push(tagged(&mut pool, &sup, so, &lens)).unwrap();
        let mut st = OffloadStats::default();
        // Multi-segment transmit, so an MSS above a buffer's room (1982 here) chains.
        let caps = Capabilities { tx_multi_seg: true, ..Capabilities::NONE };
        let wire: Vec<_> = drive(&caps, &mut batch, &mut pool, &mut st)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        prop_assert!(batch.is_empty());
        check_segments(&wire, &data, usize::from(mss), ALL_FLAGS, 0xfffe);
        prop_assert_eq!(pool.live(), 0);
    }
}

/// A driver that takes up to `room` frames per call and records them.
fn driver<'a>(
    wire: &'a mut Vec<Vec<u8>>,
    room: &'a mut usize,
) -> impl FnMut(&mut Batch<TBuf>, usize) -> usize + 'a {
    move |batch: &mut Batch<TBuf>, n: usize| {
        let n = n.min(*room);
        *room -= n;
        for b in batch.drain(..n) {
            wire.push(bytes_of(&b));
        }
        n
    }
}

#[test]
fn transmit_fast_path_sends_everything_untouched() {
    let mut pool = Pool::new();
    let caps = Capabilities::ALL;
    let (f, o) = udp_frame(b"fast", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    for _ in 0..10 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), usize::MAX);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!(sent, 10);
    assert!(
        wire.iter().all(|w| *w == f),
        "hardware offloads: frames go out as handed over"
    );
    assert_eq!(st, OffloadStats::default());
    assert_eq!(pool.live(), 0);
}

#[test]
fn transmit_handles_a_full_batch_led_by_a_super_segment() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(3000, 19);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 1, 1448);
    let (f, o) = udp_frame(b"y", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), usize::MAX);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!(
        sent,
        3 + 63,
        "three segments, then the 63 datagrams, in order"
    );
    assert!(batch.is_empty());
    check_segments(&wire[..3], &data, 1448, ALL_FLAGS, 1);
    assert_eq!(st.dropped_tx_full, 0);
    drop(wire);

    // The same with a driver that has room for only two frames: the third segment is
    // tail-dropped and counted, the datagrams stay in the caller's batch.
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let (mut wire, mut room) = (Vec::new(), 2);
    let mut st = OffloadStats::default();
    let sent = offload::transmit(
        &caps,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
        &mut driver(&mut wire, &mut room),
    );
    assert_eq!((sent, st.dropped_tx_full, batch.len()), (2, 1, 63));
    drop(batch);
    assert_eq!(pool.live(), 0);
}
