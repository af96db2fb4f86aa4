//! `burst gen`'s paced path with one frame size (RFC 2544's trials: due slots counted, then
//! taken from the pool and filled in one pass with `Queue::alloc_fill`) on a DPDK `net_ring`
//! loopback: every packet of two paced streams (one with a varied field, one at an L1 bit
//! rate) sent, received in order and accounted for through real mbufs, twice in one EAL. Its
//! own test binary: one EAL per process.
#![cfg(feature = "dpdk")]

use std::time::Duration;

use burst_gen::config::GenConfig;
use burst_gen::dpdk::DpdkLab;
use burst_gen::run::Live;
use burst_port::Port;

const CFG: &str = r#"
[eal]
args = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "256", "-l", "0",
        "--log-level=lib.eal:warning", "--file-prefix=burst-test-gen-paced", "--vdev=net_ring0"]
cores = 1
cpus = []

[[port]]
name = "r"
device = "net_ring0"
addresses = ["198.18.1.1/24"]

[[stream]]
name = "pps"
dst = "198.18.1.2"
dst_mac = "02:00:00:00:00:02"
rate = "1Mpps"
count = 30000
size = 64
vary = [{ field = "src_port", min = 1024, max = 65535 }]

[[stream]]
name = "l1"
dst = "198.18.1.3"
dst_mac = "02:00:00:00:00:03"
rate = "1Gbps"
count = 10000
size = 1518

# Counted paced streams: each ends once its count is sent (a slot skipped after a stall of the
# machine moves the schedule, never the count), so the duration only bounds the run.
[test]
duration = "60s"
drain = "100ms"
"#;

#[test]
fn paced_streams_send_and_count_every_packet_through_mbufs_twice_in_one_eal() {
    let cfg = GenConfig::parse(CFG, "paced.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut lab = DpdkLab::open(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lab.ports()[0].info().driver, "net_ring");
    for run in 0..2u64 {
        let r = lab.run(&cfg, Duration::ZERO, &Live::Quiet).unwrap();
        for (s, count, size) in [(&r.streams[0], 30_000, 64), (&r.streams[1], 10_000, 1518)] {
            assert_eq!((s.tx, s.rx, s.lost), (count, count, 0), "run {run}: {s:?}");
            assert_eq!(
                (s.duplicates, s.reordered, s.late, s.unsent),
                (0, 0, 0, 0),
                "run {run}: {s:?}"
            );
            assert_eq!(s.intended, s.tx + s.skipped, "run {run}: {s:?}");
            assert_eq!(s.tx_bytes, count * size);
            assert_eq!(s.latency.count, count);
        }
        let p = &r.ports[0].counters;
        assert_eq!(
            (p.tx, p.rx, p.rx_other, p.alloc_fail),
            (40_000, 40_000, 0, 0)
        );
        let st = lab.ports()[0].stats();
        assert_eq!(st.tx_packets, 40_000 * (run + 1));
        assert_eq!(st.rx_packets, 40_000 * (run + 1));
    }
}
