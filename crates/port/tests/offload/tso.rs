//! TSO in software: segments verify and reassemble, allocation failures, jumbo MSS, batch
//! overflow and resumption, malformed requests.

use super::*;

#[test]
fn tso_64k_in_software_reassembles_and_verifies() {
    let mut pool = Pool::new();
    let data = payload(64000, 11);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 0xfff0, 1448);
    assert_eq!(sup.len() - L2, 20 + 32 + 64000);
    let (before, bo) = udp_frame(b"before", 1, ChecksumMode::Offload);
    let (after, ao) = udp_frame(b"after", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &before, bo, &[])).unwrap();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    batch.push(tagged(&mut pool, &after, ao, &[])).unwrap();
    assert!(batch.as_slice()[1].nb_segs() > 7);
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let n = 64000usize.div_ceil(1448);
    assert_eq!(n, 45);
    assert_eq!(batch.len(), n + 2);
    assert_eq!(ready_len(&Capabilities::NONE, &batch), batch.len());
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    assert_eq!(frames[0], udp_frame(b"before", 1, ChecksumMode::Compute).0);
    assert_eq!(
        frames[n + 1],
        udp_frame(b"after", 2, ChecksumMode::Compute).0
    );
    // IDs from 0xfff0 wrap past 0xffff; sequence numbers wrap past 2^32.
    check_segments(&frames[1..=n], &data, 1448, ALL_FLAGS, 0xfff0);
    assert!(batch
        .iter()
        .all(|b| b.tx_offload().is_empty() && b.nb_segs() == 1));
    assert_eq!(
        st,
        OffloadStats {
            sw_ipv4_checksums: n as u64 + 2,
            sw_l4_checksums: n as u64 + 2,
            sw_tso_packets: 1,
            sw_tso_segments: n as u64,
            ..OffloadStats::default()
        }
    );
    // The super-segment's buffers went back; only the segments and the two packets are out.
    assert_eq!(pool.live(), n + 2);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_with_checksum_offload_leaves_checksums_to_the_nic() {
    let mut pool = Pool::new();
    let data = payload(10_001, 12);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 100, 1448);
    let caps = Capabilities {
        tx_ipv4_checksum: true,
        tx_tcp_checksum: true,
        ..Capabilities::NONE
    };
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(batch.len(), 7);
    assert_eq!((st.sw_ipv4_checksums, st.sw_l4_checksums), (0, 0));
    for b in batch.iter() {
        let f = bytes_of(b);
        let ipp = ipv4::Packet::new_checked(&f[L2..]).unwrap();
        assert_eq!(ipp.checksum(), 0);
        let seg_len = ipp.payload().len();
        let tp = tcp::Packet::new_checked(ipp.payload()).unwrap();
        // Exactly what burst_wire's Offload emit writes for a segment of this length.
        assert_eq!(
            tp.checksum(),
            checksum::pseudo_header(SRC, DST, 6, seg_len as u16)
        );
        let o = b.tx_offload();
        assert!(o.ipv4_checksum && o.l4_checksum == Some(L4Checksum::Tcp) && o.tso_segsz == 0);
        assert_eq!((o.l2_len, o.l3_len, o.l4_len), (14, 20, 32));
    }
    // Completing those requests (as a NIC would) gives the all-software result byte for byte.
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    check_segments(&frames, &data, 1448, ALL_FLAGS, 100);
    let mut soft = Batch::new();
    soft.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(
        &Capabilities::NONE,
        &mut soft,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(soft.iter().map(bytes_of).collect::<Vec<_>>(), frames);
    drop((batch, soft));
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_payload_within_one_segment_is_finished_in_place() {
    let mut pool = Pool::new();
    let data = payload(1000, 13);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 77, 1448);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[100, 3])).unwrap();
    let mut st = OffloadStats::default();
    // A dry pool: nothing is allocated on this path.
    pool.budget = 0;
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    let (want, _) = tcp_frame(&tcp_repr(1000, ALL_FLAGS), &data, 77, ChecksumMode::Compute);
    assert_eq!(
        bytes_of(&batch.as_slice()[0]),
        want,
        "flags all kept, same as Compute"
    );
    assert!(batch.as_slice()[0].tx_offload().is_empty());
    assert_eq!((st.sw_tso_packets, st.sw_tso_segments), (1, 1));
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_alloc_failure_keeps_complete_segments_and_drops_the_rest() {
    let mut pool = Pool::new();
    let data = payload(64000, 14);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 1, 1448);
    let (udp, uo) = udp_frame(b"after", 2, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    batch.push(tagged(&mut pool, &udp, uo, &[])).unwrap();
    pool.budget = 10;
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st.dropped_no_buffer, 1);
    assert_eq!((st.sw_tso_segments, st.sw_tso_packets), (10, 0));
    // Ten complete segments, then the later packet, still processed.
    assert_eq!(batch.len(), 11);
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    assert_eq!(frames[10], udp_frame(b"after", 2, ChecksumMode::Compute).0);
    let mut prefix = ALL_FLAGS;
    prefix.remove(Flags::FIN | Flags::PSH);
    check_segments(&frames[..10], &data[..10 * 1448], 1448, prefix, 1);
    // The super-segment's buffers are back in the pool; only batch buffers are out.
    assert_eq!(pool.live(), 11);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn tso_jumbo_mss_chains_segments_or_drops_without_multi_seg() {
    let mut pool = Pool::new();
    let data = payload(20_000, 15);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 3, 5000);
    let mut st = OffloadStats::default();
    let multi = Capabilities {
        tx_multi_seg: true,
        ..Capabilities::NONE
    };
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(&multi, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(batch.len(), 4);
    assert!(batch.iter().all(|b| b.nb_segs() == 3));
    let frames: Vec<_> = batch.iter().map(bytes_of).collect();
    check_segments(&frames, &data, 5000, ALL_FLAGS, 3);
    batch.clear();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert!(batch.is_empty());
    assert_eq!(st.dropped_malformed, 1);
    assert_eq!(pool.live(), 0);
}

#[test]
fn batch_overflow_defers_and_resumes_in_order() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(64000, 16);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 500, 1448);
    let mut batch = Batch::new();
    let mut udps = Vec::new();
    // 20 packets before and 23 after the super-segment: 44 in the batch, room 20 < 44.
    for k in 0..44u16 {
        if k == 20 {
            batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
            continue;
        }
        let d = format!("udp {k}");
        let (f, o) = udp_frame(d.as_bytes(), k, ChecksumMode::Offload);
        udps.push(udp_frame(d.as_bytes(), k, ChecksumMode::Compute).0);
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    // The 20 free slots took the first 20 segments; the rest of the super-segment waits right
    // after them, and the 23 packets behind it are untouched.
    assert_eq!(batch.len(), BURST_MAX);
    assert_eq!(ready_len(&caps, &batch), 40);
    assert_eq!(
        (st.tso_deferred, st.sw_tso_segments, st.tso_stalled),
        (1, 20, 0)
    );
    let rest = &batch.as_slice()[40];
    assert_eq!(rest.tx_offload(), so);
    let rf = bytes_of(rest);
    let rip = ipv4::Packet::new_unchecked(&rf[L2..]);
    assert_eq!(usize::from(rip.total_len()), 52 + 64000 - 20 * 1448);
    assert_eq!(rip.ident(), 520);
    assert!(batch.as_slice()[41].tx_offload().l4_checksum.is_some());

    // Calling again before transmitting changes nothing (no room): idempotent.
    let before = st;
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(st.sw_tso_segments, before.sw_tso_segments);
    assert_eq!(ready_len(&caps, &batch), 40);

    // The backend loop: transmit the ready prefix, prepare again, until done.
    let mut wire: Vec<_> = batch.drain(..40).map(|b| bytes_of(&b)).collect();
    wire.extend(
        drive(&caps, &mut batch, &mut pool, &mut st)
            .into_iter()
            .map(|(f, _)| f),
    );
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 43 + 45);
    assert_eq!(wire[..20], udps[..20]);
    check_segments(&wire[20..65], &data, 1448, ALL_FLAGS, 500);
    assert_eq!(wire[65..], udps[20..]);
    assert_eq!((st.sw_tso_packets, st.sw_tso_segments), (1, 45));
    assert_eq!(pool.live(), 0);
}

#[test]
fn exact_fit_uses_the_super_segments_own_slot() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(4 * 1448, 21);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 9, 1448);
    let (f, o) = udp_frame(b"y", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    for _ in 0..30 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    while batch.room() > 3 {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    // Four segments, three free slots: the fourth takes the super-segment's slot.
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert!(batch.is_full());
    assert_eq!(ready_len(&caps, &batch), BURST_MAX);
    assert_eq!((st.tso_deferred, st.sw_tso_packets), (0, 1));
    let frames: Vec<_> = batch.iter().skip(30).take(4).map(bytes_of).collect();
    check_segments(&frames, &data, 1448, ALL_FLAGS, 9);
    drop(batch);
    assert_eq!(pool.live(), 0);
}

#[test]
fn small_mss_needs_more_segments_than_a_batch_holds() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let data = payload(64000, 17);
    let (sup, so) = super_segment(&data, ALL_FLAGS, 0xffc0, 536);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, ODD_SEGS)).unwrap();
    let mut st = OffloadStats::default();
    let wire: Vec<_> = drive(&caps, &mut batch, &mut pool, &mut st)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 120);
    check_segments(&wire, &data, 536, ALL_FLAGS, 0xffc0);
    assert_eq!((st.tso_deferred, st.sw_tso_packets), (1, 1));
    assert_eq!(pool.live(), 0);
}

#[test]
fn full_batch_led_by_a_super_segment_stalls_without_loss() {
    let mut pool = Pool::new();
    let caps = Capabilities::NONE;
    let (sup, so) = super_segment(&payload(3000, 18), ALL_FLAGS, 1, 1448);
    let (f, o) = udp_frame(b"x", 1, ChecksumMode::Offload);
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    while !batch.is_full() {
        batch.push(tagged(&mut pool, &f, o, &[])).unwrap();
    }
    let mut st = OffloadStats::default();
    prepare_tx(&caps, &mut batch, &mut || pool.alloc(), &mut st);
    assert_eq!(ready_len(&caps, &batch), 0);
    assert_eq!((st.tso_deferred, st.tso_stalled), (1, 1));
    assert_eq!(bytes_of(&batch.as_slice()[0]), sup, "nothing changed");
    // One free slot is enough to make progress.
    batch.pop();
    let wire = drive(&caps, &mut batch, &mut pool, &mut st);
    assert!(batch.is_empty());
    assert_eq!(wire.len(), 3 + 62);
    let frames: Vec<_> = wire.iter().take(3).map(|(f, _)| f.clone()).collect();
    check_segments(&frames, &payload(3000, 18), 1448, ALL_FLAGS, 1);
    assert_eq!(pool.live(), 0);
}

#[test]
fn malformed_requests_are_dropped_and_counted() {
    let mut pool = Pool::new();
    let data = payload(4000, 19);
    let (sup, so) = super_segment(&data, Flags::ACK, 1, 1448);
    let (udp, uo) = udp_frame(&data[..100], 2, ChecksumMode::Offload);
    let bad: Vec<(Vec<u8>, TxOffload)> = vec![
        // l3_len beyond the packet.
        (udp[..40].to_vec(), TxOffload { l3_len: 60, ..uo }),
        // l3_len different from the IHL.
        (udp.clone(), TxOffload { l3_len: 24, ..uo }),
        // IPv4 total length beyond the packet.
        (udp[..udp.len() - 1].to_vec(), uo),
        // Not IPv4 at l2_len.
        (udp.clone(), TxOffload { l2_len: 12, ..uo }),
        // UDP under TSO.
        (
            udp.clone(),
            TxOffload {
                l4_len: 8,
                tso_segsz: 1448,
                ..uo
            },
        ),
        // l4_len different from the TCP data offset.
        (sup.clone(), TxOffload { l4_len: 20, ..so }),
        // A fragment under TSO.
        (
            {
                let mut f = sup.clone();
                f[L2 + 6] |= 0x20;
                f
            },
            so,
        ),
    ];
    let mut batch = Batch::new();
    batch.push(tagged(&mut pool, &udp, uo, &[])).unwrap();
    for (f, o) in &bad {
        batch.push(tagged(&mut pool, f, *o, &[])).unwrap();
    }
    batch.push(tagged(&mut pool, &sup, so, &[])).unwrap();
    let mut st = OffloadStats::default();
    prepare_tx(
        &Capabilities::NONE,
        &mut batch,
        &mut || pool.alloc(),
        &mut st,
    );
    assert_eq!(st.dropped_malformed, bad.len() as u64);
    assert_eq!(batch.len(), 1 + 3);
    assert_eq!(
        bytes_of(&batch.as_slice()[0]),
        udp_frame(&data[..100], 2, ChecksumMode::Compute).0
    );
    let frames: Vec<_> = batch.iter().skip(1).map(bytes_of).collect();
    check_segments(&frames, &data, 1448, Flags::ACK, 1);
    drop(batch);
    assert_eq!(pool.live(), 0);
}
