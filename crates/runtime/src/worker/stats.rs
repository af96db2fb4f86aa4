//! The worker's counters: every one named once, published to `burst ctl stats` by a walk that
//! allocates nothing (names are built once, values stored in the same order).

use std::sync::atomic::{AtomicU64, Ordering};

use burst_port::Queue;
use burst_stack::frag::{self};
use burst_stack::icmp::IcmpStats;
use burst_stack::ipv4::Ipv4Stats;
use burst_stack::udp::{self as sudp};

use super::{ForwardStats, NetstatSlot, TcpWorkerStats, Worker};

/// Section names for per-port worker counters (one per port; `MAX_PORTS` is 64).
pub(super) const PORT_SECTIONS: [&str; crate::config::MAX_PORTS] = [
    "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12", "p13", "p14",
    "p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23", "p24", "p25", "p26", "p27",
    "p28", "p29", "p30", "p31", "p32", "p33", "p34", "p35", "p36", "p37", "p38", "p39", "p40",
    "p41", "p42", "p43", "p44", "p45", "p46", "p47", "p48", "p49", "p50", "p51", "p52", "p53",
    "p54", "p55", "p56", "p57", "p58", "p59", "p60", "p61", "p62", "p63",
];

/// A worker's counters for one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortCounters {
    /// Frames received on the port by this worker.
    pub rx: u64,
    /// Frames this worker handed to the port.
    pub tx: u64,
    /// Frames dropped because the port's transmit ring stayed full.
    pub tx_full: u64,
    /// TCP/UDP datagrams whose checksum a kernel peer left partial (accepted, or completed
    /// when forwarded): `[[port]] partial_checksums`.
    pub rx_partial_csum: u64,
    /// A kernel peer's TCP super-frames (TSO/GSO, larger than the MTU) cut into segments on
    /// the way out.
    pub rx_super_frames: u64,
    /// Dropped: a super-frame that cannot be cut (a peer's UDP segmentation offload).
    pub drop_unsegmentable: u64,
    /// Dropped: the frame ended before its IPv4 total length (cut by the device: an
    /// af_packet ring slot smaller than the frame). Also counted in `ipv4.drop_truncated`.
    pub rx_truncated: u64,
}

/// Link-layer and worker-level counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2Stats {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames handed to the ports.
    pub tx_frames: u64,
    /// Dropped: not a valid Ethernet frame.
    pub drop_malformed: u64,
    /// Dropped: addressed to another station's MAC.
    pub drop_not_our_mac: u64,
    /// Dropped: an EtherType we do not speak (IPv6, LLDP...).
    pub drop_ethertype: u64,
    /// Dropped: a chained (multi-segment) frame on receive.
    pub drop_chained: u64,
    /// Dropped: the port's transmit ring stayed full.
    pub drop_tx_full: u64,
    /// ARP packets received.
    pub arp_rx: u64,
    /// Dropped: malformed or unsupported ARP.
    pub arp_drop_malformed: u64,
    /// ARP replies sent (answers to requests for our addresses).
    pub arp_replies: u64,
    /// ARP packets sent for the control thread (requests, gratuitous).
    pub arp_sent_for_control: u64,
    /// Messages to the control thread lost because their ring was full: ARP seen, resolve
    /// requests.
    pub lost_neigh: u64,
    /// Messages to the control thread lost because their ring was full: ICMP notes, IGMP.
    pub lost_proto: u64,
    /// Messages to the control thread lost because their ring was full: ctl echo events.
    pub lost_session: u64,
    /// Messages to the control thread lost because their ring was full: route use
    /// (dead gateway detection).
    pub lost_route: u64,
    /// `ctl trace` records lost because their ring was full.
    pub lost_trace: u64,
    /// Packets queued waiting for ARP.
    pub arp_queued: u64,
    /// Packets dropped: their neighbour's pending queue was full.
    pub drop_pending_full: u64,
    /// Packets dropped: their neighbour did not resolve.
    pub drop_resolution_failed: u64,
    /// UDP datagrams to a closed port (answered with port unreachable).
    pub udp_no_port: u64,
}

/// The counters a worker publishes for `burst ctl stats` (single writer: the worker).
#[derive(Debug)]
pub struct SharedStats {
    pub(super) values: Vec<AtomicU64>,
    pub(super) names: Vec<String>,
    /// `netstat -a` rows on request.
    pub netstat: NetstatSlot,
}

impl SharedStats {
    /// Names and current values.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }
}

impl<Q: Queue> Worker<Q> {
    /// Visits every counter in a fixed order as (section, name, value), without allocating: the
    /// names are built once at construction, the values published from the same walk.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_each_counter(
        ip: &Ipv4Stats,
        icmp: &IcmpStats,
        l: &L2Stats,
        reasm: &frag::ReassemblyStats,
        udp: &sudp::UdpStats,
        fwd: &ForwardStats,
        tcp: &burst_tcp::TcpStackStats,
        tcpw: &TcpWorkerStats,
        rt: &super::runtime_stats::RuntimeStats,
        ports: &[PortCounters],
        ct: &burst_stack::conntrack::ConntrackStats,
        nat: &burst_stack::nat::NatStats,
        fw: &burst_stack::firewall::FirewallStats,
        ipsec: &super::IpsecStats,
        esp: &burst_ipsec::EspStats,
        f: &mut impl FnMut(&'static str, &'static str, u64),
    ) {
        for (n, x) in [
            ("rx_frames", l.rx_frames),
            ("tx_frames", l.tx_frames),
            ("drop_malformed", l.drop_malformed),
            ("drop_not_our_mac", l.drop_not_our_mac),
            ("drop_ethertype", l.drop_ethertype),
            ("drop_chained", l.drop_chained),
            ("drop_tx_full", l.drop_tx_full),
            ("arp_rx", l.arp_rx),
            ("arp_drop_malformed", l.arp_drop_malformed),
            ("arp_replies", l.arp_replies),
            ("arp_sent_for_control", l.arp_sent_for_control),
            ("lost_neigh", l.lost_neigh),
            ("lost_proto", l.lost_proto),
            ("lost_session", l.lost_session),
            ("lost_route", l.lost_route),
            ("lost_trace", l.lost_trace),
            ("arp_queued", l.arp_queued),
            ("drop_pending_full", l.drop_pending_full),
            ("drop_resolution_failed", l.drop_resolution_failed),
            ("udp_no_port", l.udp_no_port),
        ] {
            f("l2", n, x);
        }
        for (n, x) in ip.named() {
            f("ipv4", n, x);
        }
        for (n, x) in icmp.named() {
            f("icmp", n, x);
        }
        for (n, x) in reasm.named() {
            f("frag", n, x);
        }
        for (n, x) in udp.named() {
            f("udp", n, x);
        }
        for (n, x) in fwd.named() {
            f("fwd", n, x);
        }
        for (n, x) in tcp.named() {
            f("tcp", n, x);
        }
        for (n, x) in tcpw.named() {
            f("tcp", n, x);
        }
        for (n, x) in ct.named() {
            f("conntrack", n, x);
        }
        for (n, x) in nat.named() {
            f("nat", n, x);
        }
        for (n, x) in fw.named() {
            f("fw", n, x);
        }
        for (n, x) in ipsec.named() {
            f("ipsec", n, x);
        }
        for (n, x) in [
            ("in_packets", esp.in_packets),
            ("in_bytes", esp.in_bytes),
            ("out_packets", esp.out_packets),
            ("out_bytes", esp.out_bytes),
        ] {
            f("esp", n, x);
        }
        for (n, x) in esp.drop_counters() {
            // "esp.in_replay": the section and the name.
            let (s, n) = n.split_once('.').unwrap_or(("esp", n));
            f(s, n, x);
        }
        rt.each(&mut |n, x| f("rt", n, x));
        for (section, p) in PORT_SECTIONS.iter().zip(ports) {
            f(section, "rx", p.rx);
            f(section, "tx", p.tx);
            f(section, "tx_full", p.tx_full);
            f(section, "rx_partial_csum", p.rx_partial_csum);
            f(section, "rx_super_frames", p.rx_super_frames);
            f(section, "drop_unsegmentable", p.drop_unsegmentable);
            f(section, "rx_truncated", p.rx_truncated);
        }
    }

    pub(super) fn publish_stats(&self) {
        let mut slots = self.shared.values.iter();
        Self::for_each_counter(
            &self.ipv4,
            &self.icmp,
            &self.l2,
            self.reasm.stats(),
            &self.udp.stats,
            &self.fwd,
            &self.tcp.stats(),
            &self.tcp_stats,
            &self.rt,
            &self.port_counters,
            &self.fw.as_ref().map(|f| f.ct.stats).unwrap_or_default(),
            &self.fw.as_ref().map(|f| f.nat_stats()).unwrap_or_default(),
            &self.fw.as_ref().map(|f| f.stats).unwrap_or_default(),
            &self.ipsec.as_ref().map(|s| s.stats()).unwrap_or_default(),
            &self
                .ipsec
                .as_ref()
                .map(|s| s.esp_stats())
                .unwrap_or_default(),
            &mut |_, _, v| {
                if let Some(slot) = slots.next() {
                    slot.store(v, Ordering::Relaxed);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::PORT_SECTIONS;

    #[test]
    fn every_port_has_its_counter_section() {
        for (i, s) in PORT_SECTIONS.iter().enumerate() {
            assert_eq!(*s, format!("p{i}"));
        }
        // A worker of a node with more than 8 ports publishes the last port's counters too.
        let names: Vec<String> = {
            let n = crate::worker::testing::worker_ports(10);
            n.workers[0]
                .shared_stats()
                .snapshot()
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        for k in ["p9.rx", "p9.tx", "p9.rx_truncated"] {
            assert!(names.iter().any(|n| n == k), "{k} missing");
        }
    }
}
