//! DPDK backend on two `net_ring` ports cross-connected by two rings
//! (`rte_eth_from_rings`): what one sends the other receives, as the same mbufs, so payload,
//! metadata and pool accounting can be checked end to end.
#![cfg(feature = "dpdk")]

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use burst_port::dpdk::{DpdkPort, DpdkPortConfig, DpdkQueue, Eal, Mbuf, Mempool, MempoolConfig};
use burst_port::offload::{prepare_tx, OffloadStats};
use burst_port::{
    Batch, ChecksumStatus, L4Checksum, PacketBuf, PacketType, Port, Queue, RxMeta, TxOffload,
};
use burst_wire::checksum;

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
            "--file-prefix=burst-test-ring",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Eal::init(&args).expect("rte_eal_init")
    })
}

struct Pair {
    pool: Mempool,
    a: DpdkPort,
    b: DpdkPort,
    qa: DpdkQueue,
    qb: DpdkQueue,
}

fn pair(tag: &str) -> Pair {
    let eal = eal();
    let cfg = MempoolConfig {
        size: 2047,
        ..MempoolConfig::default()
    };
    let pool = Mempool::new(eal, &format!("ring-{tag}"), &cfg).unwrap();
    let (na, nb) = eal
        .ring_pair(&format!("{tag}a"), &format!("{tag}b"), 1024)
        .unwrap();
    let mut a = DpdkPort::open(&na, &DpdkPortConfig::default(), &pool).unwrap();
    let mut b = DpdkPort::open(&nb, &DpdkPortConfig::default(), &pool).unwrap();
    assert_eq!(a.info().driver, "net_ring");
    let qa = a.take_queue(0).unwrap();
    let qb = b.take_queue(0).unwrap();
    Pair { pool, a, b, qa, qb }
}

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

/// Ethernet + IPv4 + TCP (20-byte header) + `payload` bytes numbered from `seq`, with correct
/// checksums, or with the fields prepared for offload (IPv4 zero, TCP the pseudo-header sum).
fn tcp_frame(seq: u8, payload: usize, offload: bool) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let ip_len = 20 + tcp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        seq,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&SRC.octets());
    f.extend_from_slice(&DST.octets());
    f.extend_from_slice(&[
        0x30, 0x39, 0x00, 0x50, 0, 0, 0, seq, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend((0..payload).map(|i| seq.wrapping_add(i as u8)));
    let ph = checksum::pseudo_header(SRC, DST, 6, tcp_len as u16);
    if offload {
        f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&ph.to_be_bytes());
    } else {
        let ip = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&ip.to_be_bytes());
        let tcp = !checksum::combine(&[ph, checksum::sum(&f[34..])]);
        f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&tcp.to_be_bytes());
    }
    f
}

fn mbuf(q: &mut DpdkQueue, bytes: &[u8]) -> Mbuf {
    let mut m = q.alloc().unwrap();
    m.append(bytes.len()).unwrap().copy_from_slice(bytes);
    m
}

fn bytes_of(m: &Mbuf) -> Vec<u8> {
    let mut v = vec![0; m.pkt_len()];
    m.copy_to(&mut v);
    v
}

/// Receives until `n` packets arrived (the ring delivers at once; the bound only guards
/// against a bug looping forever).
fn recv(q: &mut DpdkQueue, n: usize) -> Vec<Mbuf> {
    let mut got = Vec::new();
    let mut batch = Batch::new();
    for _ in 0..1000 {
        q.rx_burst(&mut batch);
        got.extend(batch.drain(..));
        if got.len() >= n {
            break;
        }
    }
    got
}

#[test]
fn bursts_cross_intact_both_ways() {
    let Pair {
        pool,
        a,
        b,
        mut qa,
        mut qb,
    } = pair("x");
    let start = pool.avail();
    assert_eq!(start, pool.size());
    for round in 0..2 {
        let (tx, rx) = if round == 0 {
            (&mut qa, &mut qb)
        } else {
            (&mut qb, &mut qa)
        };
        let frames: Vec<Vec<u8>> = (0..32)
            .map(|i| tcp_frame(i as u8 + 100 * round as u8, 20 + 37 * i, false))
            .collect();
        let mut batch = Batch::new();
        for fr in &frames {
            batch.push(mbuf(tx, fr)).unwrap();
        }
        assert_eq!(pool.avail(), start - 32);
        assert_eq!(tx.tx_burst(&mut batch), 32);
        assert!(batch.is_empty());
        let got = recv(rx, 32);
        assert_eq!(got.len(), 32, "round {round}");
        for (m, fr) in got.iter().zip(&frames) {
            assert_eq!(&bytes_of(m), fr);
            assert_eq!(m.rx_meta(), RxMeta::default());
            assert!(m.tx_offload().is_empty());
        }
        // Nothing more arrived, on either side.
        let mut extra = Batch::new();
        assert_eq!(rx.rx_burst(&mut extra), 0);
        assert_eq!(tx.rx_burst(&mut extra), 0);
        drop(got);
        assert_eq!(pool.avail(), start);
    }
    assert_eq!(a.stats().tx_packets, 32);
    assert_eq!(a.stats().rx_packets, 32);
    assert_eq!(b.stats().rx_packets, 32);
    drop((qa, qb, a, b));
    assert_eq!(pool.avail(), pool.size());
}

#[test]
fn metadata_offload_requests_and_chains_cross() {
    let Pair {
        pool,
        a,
        b,
        mut qa,
        mut qb,
    } = pair("y");
    let caps = qa.caps();
    let req = TxOffload {
        l2_len: 14,
        l3_len: 20,
        l4_len: 20,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: 0,
    };
    let meta = RxMeta {
        rss_hash: Some(0x1234_5678),
        ip_checksum: ChecksumStatus::Good,
        l4_checksum: ChecksumStatus::Bad,
        packet_type: PacketType::Ipv4Tcp,
    };
    // Build each packet twice: one goes through the port, the reference copy through the
    // software fallback here; what arrives must equal the reference, bytes and request.
    let mut sent = Batch::new();
    let mut reference = Batch::new();
    for i in 0..16u8 {
        let fr = tcp_frame(i, 300, true);
        for (q, batch) in [(&mut qa, &mut sent), (&mut qb, &mut reference)] {
            let mut m = if i % 4 == 3 {
                // A two-segment chain: headers in the first, payload in the second.
                let mut h = mbuf(q, &fr[..54]);
                h.chain(mbuf(q, &fr[54..])).unwrap();
                h
            } else {
                mbuf(q, &fr)
            };
            m.set_tx_offload(req);
            m.set_rx_meta(meta);
            batch.push(m).unwrap();
        }
    }
    let mut stats = OffloadStats::default();
    let mut alloc = || qb.alloc();
    prepare_tx(&caps, &mut reference, &mut alloc, &mut stats);
    assert_eq!(qa.tx_burst(&mut sent), reference.len());
    let got = recv(&mut qb, reference.len());
    assert_eq!(got.len(), reference.len());
    for (m, r) in got.iter().zip(reference.iter()) {
        assert_eq!(bytes_of(m), bytes_of(r));
        assert_eq!(m.tx_offload(), r.tx_offload());
        assert_eq!(m.nb_segs(), r.nb_segs());
        assert_eq!(
            m.rx_meta(),
            meta,
            "the ring carries the mbuf's metadata as is"
        );
    }
    assert_eq!(qa.stats().tx_prepare_dropped, 0);
    assert!(sent.is_empty());
    drop((got, reference));
    assert_eq!(pool.in_use(), 0);
    drop((qa, qb, a, b));
    assert_eq!(pool.avail(), pool.size());
}
