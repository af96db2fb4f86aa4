//! DPDK backend on `net_null` vdevs: the EAL, the mbuf operations, receive and transmit
//! bursts, queue hand-out, offload negotiation and pool accounting.
//!
//! One EAL per process (DPDK cannot initialise twice), shared by the tests of this file; each
//! test uses its own vdev and pool so they can run in parallel.
#![cfg(feature = "dpdk")]

use std::sync::OnceLock;

use burst_port::dpdk::{DpdkError, DpdkPort, DpdkPortConfig, Eal, Mbuf, Mempool, MempoolConfig};
use burst_port::{Batch, L4Checksum, PacketBuf, Port, Queue, TxOffload};

/// Packet size net_null produces (its `size` devarg; 64 is the default).
const NULL_SIZE: usize = 64;

fn eal() -> &'static Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let args: Vec<String> = [
            "--no-huge",
            "--no-pci",
            "--no-shconf",
            "--no-telemetry",
            "-m",
            "256",
            "-l",
            "0",
            "--log-level=lib.eal:warning",
            // With --no-shconf nothing is shared under the prefix (EAL only makes an empty            // runtime directory), so one fixed name neither collides nor litters.
            "--file-prefix=burst-test-null",
            "--vdev=net_null0",
            "--vdev=net_null1",
            "--vdev=net_null2",
            "--vdev=net_null3",
            "--vdev=net_null4,size=128",
            "--vdev=net_null5",
            "--vdev=net_null6",
            "--vdev=net_null7",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Eal::init(&args).expect("rte_eal_init")
    })
}

/// A 60-byte Ethernet + IPv4 + UDP frame (18 payload bytes) prepared for checksum offload:
/// IPv4 checksum zero, UDP checksum field holding the pseudo-header sum.
fn udp_frame(id: u8) -> [u8; 60] {
    let (src, dst) = (
        std::net::Ipv4Addr::new(198, 18, 0, 1),
        std::net::Ipv4Addr::new(198, 19, 0, 2),
    );
    let mut f = [0u8; 60];
    f[..14].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f[14..26].copy_from_slice(&[0x45, 0, 0, 46, 0, id, 0, 0, 64, 17, 0, 0]);
    f[26..30].copy_from_slice(&src.octets());
    f[30..34].copy_from_slice(&dst.octets());
    f[34..42].copy_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 26, 0, 0]);
    let ph = burst_wire::checksum::pseudo_header(src, dst, 17, 26);
    f[40..42].copy_from_slice(&ph.to_be_bytes());
    f
}

fn pool(name: &str) -> Mempool {
    let cfg = MempoolConfig {
        size: 2047,
        ..MempoolConfig::default()
    };
    Mempool::new(eal(), name, &cfg).expect("pool")
}

#[test]
fn second_init_is_refused() {
    eal();
    assert_eq!(Eal::init(&[]).unwrap_err(), DpdkError::AlreadyInitialised);
    // Other tests close (and so release) their ports meanwhile; net_null3 is never opened.
    let names = eal().port_names();
    assert!(names.iter().any(|x| x == "net_null3"), "{names:?}");
}

#[test]
fn rx_bursts_arrive_tx_accepts_and_the_pool_comes_back() {
    let pool = pool("null-rxtx");
    assert_eq!(pool.avail(), pool.size());
    let mut port = DpdkPort::open("net_null0", &DpdkPortConfig::default(), &pool).unwrap();
    assert_eq!(port.info().driver, "net_null");
    assert_eq!(port.info().queues, 1);
    let mut q = port.take_queue(0).unwrap();
    assert!(port.take_queue(0).is_none(), "a queue is handed out once");
    assert!(port.take_queue(1).is_none(), "out of range");
    let start = pool.avail();

    let mut batch = Batch::new();
    let (mut rx, mut tx) = (0usize, 0usize);
    for round in 0..100 {
        let n = q.rx_burst(&mut batch);
        assert_eq!(n, batch.len(), "round {round}");
        assert!(n > 0, "net_null always has packets");
        for m in batch.iter() {
            assert_eq!(m.pkt_len(), NULL_SIZE);
            assert_eq!(m.data().len(), NULL_SIZE);
            assert_eq!(m.nb_segs(), 1);
            assert_eq!(m.port(), port.id());
            assert!(m.tx_offload().is_empty());
        }
        assert_eq!(pool.avail() as usize, start as usize - n);
        rx += n;
        // Half the rounds send everything; the others keep some back to check the rest stays.
        if round % 2 == 1 {
            let keep = batch.drain(..3).collect::<Vec<_>>();
            tx += q.tx_burst(&mut batch);
            assert!(batch.is_empty(), "net_null takes everything");
            drop(keep);
        } else {
            let sent = q.tx_burst(&mut batch);
            assert_eq!(sent, n);
            tx += sent;
        }
        assert_eq!(pool.avail(), start, "net_null frees what it transmits");
    }
    // With the transmit checks off the batch goes to the driver as is.
    q.set_tx_checks(false);
    let n = q.rx_burst(&mut batch);
    rx += n;
    tx += q.tx_burst(&mut batch);
    assert!(batch.is_empty());
    assert_eq!(pool.avail(), start);
    let st = port.stats();
    assert_eq!(st.rx_packets, rx as u64);
    assert_eq!(st.tx_packets, tx as u64);
    assert!(port.link().up);
    assert!(!port.xstats().is_empty());
    drop(q);
    drop(port);
    assert_eq!(pool.avail(), pool.size());
}

#[test]
fn rx_fills_only_the_room_left() {
    let pool = pool("null-room");
    let mut port = DpdkPort::open("net_null4", &DpdkPortConfig::default(), &pool).unwrap();
    let mut q = port.take_queue(0).unwrap();
    let mut batch = Batch::new();
    while !batch.is_full() {
        q.rx_burst(&mut batch);
    }
    assert_eq!(q.rx_burst(&mut batch), 0);
    assert!(batch.iter().all(|m| m.pkt_len() == 128), "size=128 devarg");
    assert_eq!(pool.in_use() as usize, batch.len());
    drop(batch);
    assert_eq!(pool.in_use(), 0);
    drop((q, port));
    assert_eq!(pool.avail(), pool.size());
}

#[test]
fn mbuf_operations() {
    let pool = pool("null-mbuf");
    let mut m = pool.alloc().unwrap();
    let head0 = m.headroom();
    let tail0 = m.tailroom();
    assert_eq!(head0, 128, "RTE_PKTMBUF_HEADROOM");
    assert_eq!(head0 + tail0, usize::from(pool.data_room()));
    assert_eq!(m.pkt_len(), 0);
    m.append(100).unwrap().copy_from_slice(&[0xa5; 100]);
    m.prepend(14).unwrap().copy_from_slice(&[0x11; 14]);
    assert_eq!(m.pkt_len(), 114);
    assert_eq!(m.headroom(), head0 - 14);
    assert_eq!(m.tailroom(), tail0 - 100);
    assert_eq!(&m.data()[..14], &[0x11; 14]);
    assert!(m.prepend(head0).is_none(), "more than the headroom");
    assert!(m.append(tail0).is_none(), "more than the tailroom");
    assert!(m.adj(4));
    assert!(m.trim(10));
    assert_eq!(m.pkt_len(), 100);
    assert!(!m.adj(101));
    assert!(!m.trim(101));
    m.data_mut()[0] = 0x22;

    // A second segment.
    let mut t = pool.alloc().unwrap();
    t.append(50).unwrap().copy_from_slice(&[0x33; 50]);
    m.chain(t).unwrap();
    assert_eq!(m.nb_segs(), 2);
    assert_eq!(m.pkt_len(), 150);
    assert_eq!(m.segments().map(<[u8]>::len).collect::<Vec<_>>(), [100, 50]);
    assert_eq!(m.tailroom(), usize::from(pool.data_room()) - 128 - 50);
    m.append(5).unwrap().fill(0x44);
    assert!(m.trim(2));
    // Our Rust-side field arithmetic agrees with DPDK's own inline functions.
    // SAFETY: `m` is a valid mbuf chain we own; these only read it.
    unsafe {
        let last = (*m.as_ptr()).next;
        assert_eq!(
            usize::from(dpdk_sys::burst_rte_pktmbuf_headroom(m.as_ptr())),
            m.headroom()
        );
        assert_eq!(
            usize::from(dpdk_sys::burst_rte_pktmbuf_tailroom(last)),
            m.tailroom()
        );
        assert_eq!(
            dpdk_sys::burst_rte_pktmbuf_mtod(m.as_ptr()).cast_const(),
            m.data().as_ptr().cast()
        );
    }
    let mut out = [0u8; 200];
    assert_eq!(m.copy_to(&mut out), 153);
    assert_eq!(out[0], 0x22);
    assert_eq!(&out[1..10], &[0x11; 9]);
    assert_eq!(&out[10..100], &[0xa5; 90]);
    assert_eq!(&out[100..150], &[0x33; 50]);
    assert_eq!(&out[150..153], &[0x44; 3]);
    assert_eq!(pool.in_use(), 2);

    // Raw round trip.
    let raw = m.into_raw();
    // SAFETY: `raw` came from into_raw just above and is owned by nothing else.
    let m = unsafe { Mbuf::from_raw(raw) };
    drop(m);
    assert_eq!(pool.avail(), pool.size(), "the whole chain is freed");
}

/// `alloc_bulk` (the generator's transmit allocation, which resets only the mbufs' first
/// cache line): buffers every one of which a previous user left chained, shifted and marked
/// for offload come back empty, one segment, with the default headroom and no offload, and
/// go out whole.
#[test]
fn alloc_bulk_buffers_come_back_clean() {
    let pool = pool("null-bulk");
    let mut port = DpdkPort::open("net_null6", &DpdkPortConfig::default(), &pool).unwrap();
    let mut q = port.take_queue(0).unwrap();
    let dirty = TxOffload {
        l2_len: 18,
        l3_len: 60,
        l4_len: 60,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: 1000,
    };
    let mut all = Vec::new();
    while let Some(mut m) = pool.alloc() {
        m.append(100).unwrap().fill(0xee);
        m.prepend(14).unwrap().fill(0xdd);
        m.set_tx_offload(dirty);
        all.push(m);
    }
    assert_eq!(pool.avail(), 0);
    // Chained in pairs, so `next` and `nb_segs` were set too.
    let mut heads = Vec::new();
    while let (Some(mut a), Some(b)) = (all.pop(), all.pop()) {
        a.chain(b).unwrap();
        heads.push(a);
    }
    drop((all, heads));
    assert_eq!(pool.avail(), pool.size());
    let mut batch = Batch::new();
    for round in 0..40 {
        let n = q.alloc_bulk(&mut batch, 64);
        assert_eq!(n, 64, "round {round}");
        for m in batch.iter_mut() {
            assert_eq!((m.pkt_len(), m.nb_segs(), m.headroom()), (0, 1, 128));
            assert_eq!(m.tailroom(), usize::from(pool.data_room()) - 128);
            assert_eq!(m.tx_offload(), TxOffload::default());
            m.append(60).unwrap().copy_from_slice(&udp_frame(round));
            assert_eq!(m.segments().count(), 1);
        }
        assert_eq!(q.tx_burst(&mut batch), 64);
    }
    assert_eq!(port.stats().tx_packets, 40 * 64);
    drop((q, port));
    assert_eq!(pool.avail(), pool.size());
}

/// `alloc_fill` (the generator's one-pass path: raw mbufs, header set with the final
/// lengths, data handed to the filler): buffers a previous user left chained, shifted and
/// marked for offload come back one segment, default headroom, no offload, holding exactly
/// what the filler wrote for their index; a length that does not fit takes nothing.
#[test]
fn alloc_fill_buffers_come_back_clean_and_filled() {
    let pool = pool("null-fill");
    let mut port = DpdkPort::open("net_null7", &DpdkPortConfig::default(), &pool).unwrap();
    let mut q = port.take_queue(0).unwrap();
    let dirty = TxOffload {
        l2_len: 18,
        l3_len: 60,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Udp),
        ..TxOffload::default()
    };
    let mut all = Vec::new();
    while let Some(mut m) = pool.alloc() {
        m.append(100).unwrap().fill(0xee);
        m.prepend(14).unwrap().fill(0xdd);
        m.set_tx_offload(dirty);
        all.push(m);
    }
    let mut heads = Vec::new();
    while let (Some(mut a), Some(b)) = (all.pop(), all.pop()) {
        a.chain(b).unwrap();
        heads.push(a);
    }
    drop((all, heads));
    assert_eq!(pool.avail(), pool.size());
    let mut batch = Batch::new();
    // Too long for any buffer: nothing taken, nothing leaked.
    let too_long = usize::from(pool.data_room());
    assert_eq!(q.alloc_fill(&mut batch, 8, too_long, |_, _| ()), 0);
    assert!(batch.is_empty());
    assert_eq!(pool.avail(), pool.size());
    for round in 0..40u8 {
        let mut seen = Vec::new();
        let n = q.alloc_fill(&mut batch, 64, 60, |i, d| {
            seen.push(i);
            let mut f = udp_frame(round);
            f[59] = i as u8;
            d.copy_from_slice(&f);
        });
        assert_eq!(n, 64, "round {round}");
        assert_eq!(seen, (0..64).collect::<Vec<_>>());
        for (i, m) in batch.iter_mut().enumerate() {
            assert_eq!((m.pkt_len(), m.nb_segs(), m.headroom()), (60, 1, 128));
            assert_eq!(m.tailroom(), usize::from(pool.data_room()) - 128 - 60);
            assert_eq!(m.tx_offload(), TxOffload::default());
            assert_eq!(m.ol_flags(), 0);
            let mut f = udp_frame(round);
            f[59] = i as u8;
            assert_eq!(m.data(), &f[..]);
            assert_eq!(m.segments().count(), 1);
        }
        assert_eq!(q.tx_burst(&mut batch), 64);
    }
    assert_eq!(port.stats().tx_packets, 40 * 64);
    drop((q, port));
    assert_eq!(pool.avail(), pool.size());
}

#[test]
fn offloads_negotiated_or_forced_off() {
    let pool = pool("null-caps");
    let on = DpdkPort::open("net_null1", &DpdkPortConfig::default(), &pool).unwrap();
    let (tx, rx) = on.offloads();
    eprintln!("net_null caps {:?} tx {tx:#x} rx {rx:#x}", on.info().caps);
    drop(on);
    // Closed ports are released by DPDK (vdevs are not reusable), so use another for `off`.
    let cfg = DpdkPortConfig {
        offloads: false,
        queues: 2,
        ..DpdkPortConfig::default()
    };
    let mut off = DpdkPort::open("net_null2", &cfg, &pool).unwrap();
    assert_eq!(off.info().caps, burst_port::Capabilities::NONE);
    assert_eq!(off.offloads(), (0, 0));
    assert_eq!(off.info().queues, 2);
    assert!(matches!(
        DpdkPort::open("net_null2", &cfg, &pool),
        Err(DpdkError::PortBusy(_))
    ));
    assert!(matches!(
        DpdkPort::open("net_null9", &cfg, &pool),
        Err(DpdkError::NoSuchPort(_))
    ));
    let mut q1 = off.take_queue(1).unwrap();
    let mut q0 = off.take_queue(0).unwrap();
    assert_eq!((q0.index(), q1.index()), (0, 1));

    // Requests the port lacks go through the software fallback, then tx_prepare, then out.
    let mut batch = Batch::new();
    for i in 0..8u8 {
        let mut m = q1.alloc().unwrap();
        m.append(60).unwrap().copy_from_slice(&udp_frame(i));
        m.set_tx_offload(TxOffload {
            l2_len: 14,
            l3_len: 20,
            ipv4_checksum: true,
            l4_checksum: Some(L4Checksum::Udp),
            ..TxOffload::default()
        });
        batch.push(m).unwrap();
    }
    assert_eq!(q1.tx_burst(&mut batch), 8);
    assert_eq!(q1.stats().tx_prepare_dropped, 0);
    let mut rxb = Batch::new();
    assert!(q0.rx_burst(&mut rxb) > 0);
    drop(rxb);
    drop((q0, q1, off));
    assert_eq!(pool.avail(), pool.size());
}

#[test]
fn mtu_and_mac_are_applied_or_refused() {
    let pool = pool("null-mtu");
    let mac = burst_wire::ethernet::MacAddr::new(0x02, 0, 0, 0, 0, 0x42);
    // A 9000-byte MTU needs scattered receive with 2 KiB buffers, which net_null lacks: refused
    // before anything is configured, so the port stays usable.
    let jumbo = DpdkPortConfig {
        mtu: Some(9000),
        ..DpdkPortConfig::default()
    };
    assert!(matches!(
        DpdkPort::open("net_null5", &jumbo, &pool),
        Err(DpdkError::Unsupported(_))
    ));
    let cfg = DpdkPortConfig {
        name: "p5".into(),
        mtu: Some(1400),
        mac: Some(mac),
        ..DpdkPortConfig::default()
    };
    let port = DpdkPort::open("net_null5", &cfg, &pool).unwrap();
    assert_eq!(port.info().name, "p5");
    assert_eq!(port.info().mtu, 1400);
    assert_eq!(port.info().mac, mac);
    drop(port);
    assert_eq!(pool.avail(), pool.size());
}
