//! DPDK backend on a `net_tap` port, the one vdev with transmit offloads (its PMD does them in
//! software, as a NIC would): requests set on our mbufs must come out of the kernel side of
//! the tap with correct checksums and segmented. The kernel side is read back through a
//! `net_af_packet` port bound to the tap interface.
//!
//! Runs in a network namespace of its own: the test re-executes itself under `unshare -n`.
#![cfg(feature = "dpdk")]

use std::net::Ipv4Addr;
use std::process::Command;

use burst_port::dpdk::{DpdkPort, DpdkPortConfig, DpdkQueue, Eal, Mbuf, Mempool, MempoolConfig};
use burst_port::{Batch, L4Checksum, PacketBuf, Port, Queue, TxOffload};
use burst_wire::checksum;

const IFACE: &str = "bursttap0";
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
const INNER: &str = "BURST_TAP_TEST_IN_NETNS";

#[test]
fn tap_offloads_come_out_right() {
    if std::env::var_os(INNER).is_none() {
        let out = Command::new("unshare")
            .args(["-n", "--"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "tap_offloads_come_out_right", "--nocapture"])
            .env(INNER, "1")
            .output()
            .expect("run unshare -n (needs root)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "in the namespace:\n{text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    in_netns();
}

/// Ethernet + IPv4 + TCP (20-byte header) + `payload` bytes, its checksum fields prepared for
/// offload (IPv4 zero; TCP the pseudo-header sum, without the length when `tso`).
fn tcp_frame(id: u16, payload: usize, tso: bool) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let ip_len = 20 + tcp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, (ip_len >> 8) as u8, ip_len as u8]);
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&SRC.octets());
    f.extend_from_slice(&DST.octets());
    f.extend_from_slice(&[
        0x30, 0x39, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend((0..payload).map(|i| (i * 7) as u8));
    let ph = checksum::pseudo_header(SRC, DST, 6, if tso { 0 } else { tcp_len as u16 });
    f[50..52].copy_from_slice(&ph.to_be_bytes());
    f
}

fn send(q: &mut DpdkQueue, frame: &[u8], o: TxOffload) {
    // Larger frames (TSO) go as a chain of up to 2000-byte segments.
    let mut chunks = frame.chunks(2000);
    let mut m = q.alloc().unwrap();
    let first = chunks.next().unwrap();
    m.append(first.len()).unwrap().copy_from_slice(first);
    for c in chunks {
        let mut t = q.alloc().unwrap();
        t.append(c.len()).unwrap().copy_from_slice(c);
        m.chain(t).unwrap();
    }
    m.set_tx_offload(o);
    let mut b = Batch::new();
    b.push(m).unwrap();
    assert_eq!(q.tx_burst(&mut b), 1);
}

/// Our IPv4/TCP frames seen on the kernel side (the kernel adds its own IPv6 chatter).
fn receive(q: &mut DpdkQueue, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut b: Batch<Mbuf> = Batch::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while got.len() < want && std::time::Instant::now() < deadline {
        q.rx_burst(&mut b);
        for m in b.drain(..) {
            let mut v = vec![0; m.pkt_len()];
            m.copy_to(&mut v);
            if v.len() >= 54 && v[12..14] == [0x08, 0x00] && v[23] == 6 && v[26..30] == SRC.octets()
            {
                got.push(v);
            }
        }
    }
    got
}

fn assert_valid(f: &[u8]) {
    assert_eq!(checksum::sum(&f[14..34]), 0xffff, "IPv4 header checksum");
    let tcp_len = f.len() - 34;
    let ph = checksum::pseudo_header(SRC, DST, 6, tcp_len as u16);
    assert_eq!(
        checksum::combine(&[ph, checksum::sum(&f[34..])]),
        0xffff,
        "TCP checksum"
    );
}

fn in_netns() {
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
        "--log-level=pmd.net.tap:error",
        // With --no-shconf nothing is shared under the prefix (EAL only makes an empty        // runtime directory), so one fixed name neither collides nor litters.
        "--file-prefix=burst-test-tap",
        &format!("--vdev=net_tap0,iface={IFACE}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).unwrap();
    let cfg = MempoolConfig {
        size: 2047,
        ..MempoolConfig::default()
    };
    let pool = Mempool::new(&eal, "tap", &cfg).unwrap();
    let mut tap = DpdkPort::open("net_tap0", &DpdkPortConfig::default(), &pool).unwrap();
    let caps = tap.info().caps;
    assert!(
        caps.tx_ipv4_checksum && caps.tx_tcp_checksum && caps.tx_tso,
        "{caps:?}"
    );
    // The interface exists now (and is up): read its kernel side.
    eal.probe(&format!("net_af_packet0,iface={IFACE}")).unwrap();
    let mut wire = DpdkPort::open("net_af_packet0", &DpdkPortConfig::default(), &pool).unwrap();
    let mut qt = tap.take_queue(0).unwrap();
    let mut qw = wire.take_queue(0).unwrap();

    // Checksums: filled by the port, not by us.
    let o = TxOffload {
        l2_len: 14,
        l3_len: 20,
        l4_len: 20,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: 0,
    };
    let frame = tcp_frame(1, 333, false);
    send(&mut qt, &frame, o);
    let got = receive(&mut qw, 1);
    assert_eq!(got.len(), 1);
    assert_valid(&got[0]);
    assert_eq!(&got[0][54..], &frame[54..], "payload");

    // TSO: 3000 bytes in 1000-byte segments.
    let o = TxOffload {
        tso_segsz: 1000,
        ..o
    };
    let frame = tcp_frame(2, 3000, true);
    send(&mut qt, &frame, o);
    let got = receive(&mut qw, 3);
    assert_eq!(got.len(), 3, "three segments");
    let mut payload = Vec::new();
    for (i, s) in got.iter().enumerate() {
        assert_valid(s);
        assert_eq!(s.len(), 54 + 1000, "segment {i}");
        payload.extend_from_slice(&s[54..]);
    }
    assert_eq!(&payload[..], &frame[54..]);
    assert_eq!(qt.stats().tx_prepare_dropped, 0);

    drop((qt, qw, tap, wire));
    assert_eq!(pool.avail(), pool.size());
}
