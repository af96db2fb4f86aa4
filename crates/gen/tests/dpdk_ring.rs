//! `burst gen` on a DPDK `net_ring` loopback port (what the port sends it receives): every
//! generated packet accounted for, exactly, through real mbufs and the real ethdev path; two
//! runs in one EAL (as RFC 2544 trials are), a raw stream beside signature streams, and a
//! stream that nobody answers. Its own test binary: one EAL per process.
#![cfg(feature = "dpdk")]

use std::time::Duration;

use burst_gen::config::GenConfig;
use burst_gen::dpdk::DpdkLab;
use burst_gen::run::Live;
use burst_port::Port;

const CFG: &str = r#"
[eal]
args = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "256", "-l", "0",
        "--log-level=lib.eal:warning", "--file-prefix=burst-test-gen-ring", "--vdev=net_ring0"]
cores = 1
cpus = []

[[port]]
name = "r"
device = "net_ring0"
addresses = ["198.18.1.1/24"]

[[stream]]
name = "udp"
dst = "198.18.1.2"
dst_mac = "02:00:00:00:00:02"
rate = "max"
count = 100000
size = [64, 128, 1518]

[[stream]]
name = "icmp"
protocol = "icmp"
dst = "198.18.1.3"
dst_mac = "02:00:00:00:00:03"
rate = "max"
count = 20000
size = "imix"

[[stream]]
name = "raw"
protocol = "raw"
payload = "02000000000402000000000188b5 00112233"
rate = "max"
count = 1000

# Counted streams at full speed: the run ends once all are sent (the duration only bounds it,
# so a slow or loaded machine changes how long it takes, not what is counted).
[test]
duration = "60s"
drain = "100ms"
"#;

#[test]
fn every_packet_is_counted_on_a_ring_loopback_twice_in_one_eal() {
    let cfg = GenConfig::parse(CFG, "ring.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut lab = DpdkLab::open(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lab.ports()[0].info().driver, "net_ring");
    for run in 0..2 {
        let r = lab.run(&cfg, Duration::ZERO, &Live::Quiet).unwrap();
        let udp = &r.streams[0];
        assert_eq!(
            (udp.tx, udp.rx, udp.lost),
            (100_000, 100_000, 0),
            "run {run}: {udp:?}"
        );
        assert_eq!(
            (udp.duplicates, udp.reordered, udp.late, udp.unsent),
            (0, 0, 0, 0)
        );
        assert_eq!(udp.tx_bytes, (100_000 / 3) * (64 + 128 + 1518) + 64);
        assert_eq!(udp.latency.count, 100_000);
        let icmp = &r.streams[1];
        assert_eq!(
            (icmp.tx, icmp.rx, icmp.lost),
            (20_000, 20_000, 0),
            "run {run}"
        );
        // The raw frames carry no signature: sent, and received as "other".
        assert_eq!(r.streams[2].tx, 1000);
        let p = &r.ports[0].counters;
        assert_eq!(p.tx, 121_000);
        assert_eq!(p.rx, 120_000);
        assert_eq!(p.rx_other, 1000);
        // The NIC's own counters agree (they are cumulative over the runs).
        let s = lab.ports()[0].stats();
        assert_eq!(s.tx_packets, 121_000 * (run + 1));
        assert_eq!(s.rx_packets, 121_000 * (run + 1));
        // Per-second series add up to the totals.
        let sum: u64 = r.series.iter().map(|s| s.streams[0].tx).sum();
        assert_eq!(sum, 100_000);
    }
}
