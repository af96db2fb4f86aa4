//! A generator lab on the in-memory wire: ports `a` and `b` of one generator joined by a
//! virtual cable (or each pair on its own wire), a virtual clock, seeded impairments.
#![allow(dead_code)]

use burst_gen::config::GenConfig;
use burst_gen::run::{self, Lab, Live};
use burst_gen::Report;
use burst_port::clock::VirtualClock;
use burst_port::mem::{Impairments, MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, PacketBuf, Queue};
use burst_wire::ethernet::MacAddr;

pub(crate) const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x0a);
pub(crate) const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x0b);

/// `[backend]`, `[eal]` and two ports `a` (198.18.1.1/24) and `b` (198.18.2.1/24).
pub(crate) fn ports(cores: u16) -> String {
    format!(
        r#"[backend]
kind = "mem"

[eal]
cores = {cores}

[[port]]
name = "a"
addresses = ["198.18.1.1/24"]

[[port]]
name = "b"
addresses = ["198.18.2.1/24"]
"#
    )
}

/// A UDP stream from a to b (`extra` adds keys).
pub(crate) fn stream_ab(extra: &str) -> String {
    format!(
        r#"
[[stream]]
name = "ab"
port = "a"
dst = "198.18.2.1"
dst_mac = "02:00:00:00:00:0b"
{extra}
"#
    )
}

pub(crate) struct MemLab {
    pub(crate) cfg: GenConfig,
    pub(crate) clock: VirtualClock,
    pub(crate) wires: Vec<Wire>,
    pub(crate) pool: MemPool,
    pub(crate) ports: Vec<MemPort>,
    pub(crate) lab: Lab<MemQueue>,
    pub(crate) start_in_use: usize,
}

/// Ports a and b on one wire (a's egress impaired by `imp`), `rx` on both.
pub(crate) fn lab(text: &str, imp: Impairments) -> MemLab {
    lab_with(text, imp, &[true, true])
}

pub(crate) fn lab_with(text: &str, imp: Impairments, rx: &[bool]) -> MemLab {
    lab_ports(text, imp, rx, 4096)
}

/// As [`lab_with`], with `tx_ring` descriptors per transmit ring (a small ring and a slow
/// wire make the port refuse packets: back-pressure).
pub(crate) fn lab_ports(text: &str, imp: Impairments, rx: &[bool], tx_ring: usize) -> MemLab {
    let cfg = GenConfig::parse(text, "gen.toml").unwrap_or_else(|e| panic!("{e}"));
    let clock = VirtualClock::new();
    let wire = Wire::new(
        &clock,
        WireConfig {
            seed: 42,
            capacity: 1 << 16,
            ..WireConfig::default()
        },
    );
    let pool = MemPool::new(16 * 1024, 2048);
    let mk = |name: &str, mac| MemPortConfig {
        queues: cfg.cores(),
        rx_ring: 4096,
        tx_ring,
        ..MemPortConfig::new(name, mac)
    };
    let mut ports = vec![
        MemPort::new(&wire, &pool, mk("a", MAC_A)),
        MemPort::new(&wire, &pool, mk("b", MAC_B)),
    ];
    wire.set_impairments(ports[0].endpoint(), imp);
    let lab = run::mem_lab(&cfg, &mut ports, rx);
    let start_in_use = pool.in_use();
    MemLab {
        cfg,
        clock,
        wires: vec![wire],
        pool,
        ports,
        lab,
        start_in_use,
    }
}

/// Two independent cables: a0 -> b0 on wire 0 and a1 -> b1 on wire 1 (ports a0, b0, a1, b1).
pub(crate) fn two_wires(text: &str, imp: [Impairments; 2]) -> MemLab {
    let cfg = GenConfig::parse(text, "gen.toml").unwrap_or_else(|e| panic!("{e}"));
    let clock = VirtualClock::new();
    let pool = MemPool::new(16 * 1024, 2048);
    let mut wires = Vec::new();
    let mut ports = Vec::new();
    for (w, imp) in imp.iter().enumerate() {
        let wire = Wire::new(
            &clock,
            WireConfig {
                seed: 7 + w as u64,
                capacity: 1 << 16,
                ..WireConfig::default()
            },
        );
        for (k, name) in ["a", "b"].iter().enumerate() {
            let mac = MacAddr::new(0x02, 0, 0, 0, w as u8, 0x0a + k as u8);
            ports.push(MemPort::new(
                &wire,
                &pool,
                MemPortConfig {
                    queues: cfg.cores(),
                    rx_ring: 4096,
                    ..MemPortConfig::new(&format!("{name}{w}"), mac)
                },
            ));
        }
        let ep = ports[ports.len() - 2].endpoint();
        wire.set_impairments(ep, *imp);
        wires.push(wire);
    }
    let lab = run::mem_lab(&cfg, &mut ports, &[true; 4]);
    let start_in_use = pool.in_use();
    MemLab {
        cfg,
        clock,
        wires,
        pool,
        ports,
        lab,
        start_in_use,
    }
}

impl MemLab {
    /// Resolves (ARP, or the configured MACs) and runs the test to its end.
    pub(crate) fn run(&mut self) -> Report {
        run::resolve_sim(&self.cfg, &mut self.lab, &self.wires[0])
            .unwrap_or_else(|e| panic!("{e}"));
        run::run_sim(&self.cfg, &mut self.lab, &self.wires, &Live::Quiet)
    }

    /// Frames waiting on core 0's queue of port `p` (a port the generator did not receive on).
    pub(crate) fn frames(&mut self, p: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut b = Batch::new();
        loop {
            let n = self.lab.queues[0][p].rx_burst(&mut b);
            for m in b.drain(..) {
                let mut v = vec![0; m.pkt_len()];
                m.copy_to(&mut v);
                out.push(v);
            }
            if n == 0 {
                break;
            }
        }
        out
    }

    /// Every buffer is back in the pool.
    pub(crate) fn assert_no_leak(&mut self) {
        for w in &self.wires {
            w.clear();
        }
        assert_eq!(self.pool.in_use(), self.start_in_use, "buffers leaked");
    }
}
