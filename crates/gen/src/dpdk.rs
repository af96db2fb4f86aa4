//! `burst gen` on DPDK ports: the EAL, the pools and ports opened as `burst run` opens them
//! (af_packet rings sized by `burst_runtime::devices`, one queue pair per generator core), the
//! cores pinned to their CPUs (`burst_runtime::cpu`) and registered with the EAL (per-lcore
//! mempool caches), paced against the TSC. A [`DpdkLab`] stays open across runs, so RFC 2544
//! trials reuse one EAL (DPDK initialises once per process).

use std::sync::Arc;
use std::time::Duration;

use burst_port::dpdk::{
    tsc, tsc_hz, DpdkError, DpdkPort, DpdkPortConfig, DpdkQueue, Eal, Mempool, MempoolConfig,
};
use burst_port::Port;
use burst_runtime::{cpu, devices};

use crate::config::GenConfig;
use crate::engine::{PortSetup, Ticks};
use crate::run::{self, Lab, Live, ThreadHooks};
use crate::Report;

/// The TSC as a core's clock.
#[derive(Debug, Clone, Copy)]
pub struct Tsc;

impl Ticks for Tsc {
    #[inline]
    fn now(&self) -> u64 {
        tsc()
    }
}

/// Open DPDK ports and their queues, ready for runs.
pub struct DpdkLab {
    /// The queues and port facts the engines use.
    pub lab: Lab<DpdkQueue>,
    ports: Vec<DpdkPort>,
    hz: u64,
    cpus: Vec<Option<usize>>,
    eal: Eal,
    _pools: Vec<Mempool>,
    resolved: bool,
}

impl core::fmt::Debug for DpdkLab {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DpdkLab")
            .field("ports", &self.ports.len())
            .field("hz", &self.hz)
            .finish_non_exhaustive()
    }
}

impl DpdkLab {
    /// Initialises the EAL and opens every port of `cfg` with one queue pair per core.
    pub fn open(cfg: &GenConfig) -> Result<DpdkLab, String> {
        let cores = cfg.cores();
        let placement = cpu::place(cfg.eal.cpus.as_deref(), usize::from(cores), &cpu::allowed())?
            .with_control(cfg.eal.control_cpus.as_deref(), &cpu::allowed())?;
        let (eal_args, plans) =
            devices::plan(&cfg.eal.args, &cfg.ports, cores, cfg.eal.mbuf_data_room)?;
        for (p, plan) in cfg.ports.iter().zip(&plans) {
            if let Some(iface) = &plan.iface {
                if !std::path::Path::new("/sys/class/net").join(iface).exists() {
                    return Err(format!(
                        "port {}: the kernel interface {iface} (iface= of {}) does not exist: \
                         create it, or fix the --vdev in [eal] args",
                        p.name, p.device
                    ));
                }
            }
        }
        let eal = Eal::init(&eal_args).map_err(|e| {
            format!("DPDK EAL: {e} (the EAL's own messages above say why; check [eal] args)")
        })?;
        // The EAL pinned this thread to its main lcore, possibly a worker's CPU: the live
        // report and the metrics server (started from here) belong on the CPUs no worker has.
        if let Err(e) = cpu::pin_current(&placement.others) {
            eprintln!(
                "burst gen: report threads not placed on CPUs {:?}: {e}",
                placement.others
            );
        }
        let pool = Mempool::new(
            &eal,
            "gen",
            &MempoolConfig {
                size: cfg.eal.mbufs,
                data_room: cfg.eal.mbuf_data_room.saturating_add(128),
                ..MempoolConfig::default()
            },
        )
        .map_err(|e| {
            format!(
                "mempool of {} buffers: {e}; give the EAL more memory (-m) or lower [eal] mbufs",
                cfg.eal.mbufs
            )
        })?;
        let mut pools = vec![pool.clone()];
        let mut ports = Vec::new();
        for (p, plan) in cfg.ports.iter().zip(&plans) {
            let rx_pool = match plan.rx_pool {
                None => None,
                Some((size, room)) => {
                    let rp = Mempool::new(
                        &eal,
                        &format!("gen-rx{}", p.id.0),
                        &MempoolConfig {
                            size,
                            cache: 32,
                            data_room: room as u16,
                            ..MempoolConfig::default()
                        },
                    )
                    .map_err(|e| {
                        format!(
                            "port {}: a pool of {size} receive buffers of {room} bytes: {e}; \
                             give the EAL more memory (-m), or set [[port]] max_frame lower \
                             (e.g. 2048)",
                            p.name
                        )
                    })?;
                    pools.push(rp.clone());
                    Some(rp)
                }
            };
            let pc = DpdkPortConfig {
                name: p.name.clone(),
                queues: cores,
                mtu: Some(p.mtu),
                mac: p.mac,
                offloads: p.offloads,
                rx_pool,
                ..DpdkPortConfig::default()
            };
            let port = DpdkPort::open(&p.device, &pc, &pool).map_err(|e| match e {
                DpdkError::NoSuchPort(_) => format!(
                    "port {}: no DPDK device named {}: add --vdev={},... to [eal] args, or for a \
                     PCI NIC bind it to a DPDK driver and use its PCI address",
                    p.name, p.device, p.device
                ),
                e => format!("port {} ({}): {e}", p.name, p.device),
            })?;
            ports.push(port);
        }
        let mut queues: Vec<Vec<DpdkQueue>> = Vec::new();
        for c in 0..cores {
            let mut qs = Vec::new();
            for port in &mut ports {
                let mut q = port
                    .take_queue(c)
                    .ok_or_else(|| format!("port {}: no queue {c}", port.info().name))?;
                // The generator's packets ask for no offload and are never chained, so the
                // per-burst scan for software fallbacks is skipped (as testpmd's txonly does).
                q.set_tx_checks(false);
                qs.push(q);
            }
            queues.push(qs);
        }
        let setups = ports
            .iter()
            .zip(&cfg.test.rx)
            .map(|(p, &rx)| PortSetup {
                mac: p.info().mac,
                rx,
            })
            .collect();
        let hz = tsc_hz(&eal);
        Ok(DpdkLab {
            lab: Lab {
                queues,
                ports: setups,
                dst_macs: Vec::new(),
            },
            ports,
            hz,
            cpus: placement.workers,
            eal,
            _pools: pools,
            resolved: false,
        })
    }

    /// The ports (for their link state and NIC counters).
    pub fn ports(&self) -> &[DpdkPort] {
        &self.ports
    }

    /// TSC ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Resolves the streams' destinations (once; again with `force`).
    pub fn resolve(&mut self, cfg: &GenConfig, force: bool) -> Result<(), String> {
        if self.resolved && !force && self.lab.dst_macs.len() == cfg.streams.len() {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + Duration::from_nanos(cfg.test.arp_timeout.0);
        let mut last: Option<std::time::Instant> = None;
        run::resolve(
            cfg,
            &mut self.lab,
            || {
                let now = std::time::Instant::now();
                let due = last.is_none_or(|l| now - l >= Duration::from_millis(500));
                if due {
                    last = Some(now);
                }
                due
            },
            || {
                std::thread::sleep(Duration::from_millis(1));
                std::time::Instant::now() < deadline
            },
        )?;
        self.resolved = true;
        Ok(())
    }

    /// Runs `cfg` (whose ports are this lab's) once; the cores start `start_delay` from now.
    pub fn run(
        &mut self,
        cfg: &GenConfig,
        start_delay: Duration,
        live: &Live,
    ) -> Result<Report, String> {
        self.resolve(cfg, false)?;
        let cpus = Arc::new(self.cpus.clone());
        let threads = self.eal.threads();
        let hooks = ThreadHooks {
            enter: Box::new(move |c| {
                if let Some(Some(cpu)) = cpus.get(usize::from(c)) {
                    if let Err(e) = cpu::pin_current(&[*cpu]) {
                        eprintln!("burst gen: core {c} not pinned to CPU {cpu}: {e}");
                    }
                }
                if let Err(e) = threads.register() {
                    eprintln!(
                        "burst gen: core {c} not registered with the EAL (no mempool cache): {e}"
                    );
                }
            }),
            leave: Box::new(move |_| threads.unregister()),
        };
        Ok(run::run_threads(
            cfg,
            &mut self.lab,
            Tsc,
            self.hz,
            start_delay,
            &hooks,
            live,
        ))
    }
}

impl DpdkLab {
    /// Runs the `[[client]]` / `[[server]]` part of `cfg` (see [`crate::stateful::run`]):
    /// resolves the clients' servers first, then one worker per core.
    pub fn run_stateful(
        &mut self,
        cfg: &GenConfig,
        live: &Live,
    ) -> Result<crate::stateful::run::StatefulReport, String> {
        use crate::stateful::run as srun;
        let driver = self.ports[0].info().driver.clone();
        if cfg.cores() > 1 && !srun::queues_paired(&driver) {
            return Err(format!(
                "a stateful run on {} cores needs a port whose queues are paired point to                  point (net_memif, net_ring): port {} is {driver}, whose RSS would send the                  replies to other cores than the connections' owners (RSS-aware source ports                  are not done yet); set [eal] cores = 1 and run one process per core",
                cfg.cores(),
                self.ports[0].info().name
            ));
        }
        let mac = self.lab.ports[0].mac;
        let wants = srun::arp_wants(cfg, mac);
        let mut neigh = std::collections::HashMap::new();
        if !wants.is_empty() {
            let deadline = std::time::Instant::now() + Duration::from_nanos(cfg.test.arp_timeout.0);
            let ours = srun::arp_ours(cfg, mac);
            // Each server alone, so one that does not answer leaves the others resolved; it is
            // asked again from the run loop and its connections time out meanwhile.
            for w in &wants {
                let mut last: Option<std::time::Instant> = None;
                match crate::arp::resolve(
                    &mut self.lab.queues[0],
                    std::slice::from_ref(w),
                    &ours,
                    || {
                        let now = std::time::Instant::now();
                        let due = last.is_none_or(|l| now - l >= Duration::from_millis(200));
                        if due {
                            last = Some(now);
                        }
                        due
                    },
                    || {
                        std::thread::sleep(Duration::from_millis(1));
                        std::time::Instant::now() < deadline
                    },
                ) {
                    Ok(m) => {
                        neigh.insert(w.target, m[0]);
                    }
                    Err(ip) => eprintln!(
                        "burst gen: no ARP reply for server {ip} within [test] arp_timeout ({} \
                         ms); going on (asked again while running; its connections time out \
                         until it answers)",
                        cfg.test.arp_timeout.as_millis()
                    ),
                }
            }
        }
        let cpus = Arc::new(self.cpus.clone());
        let threads = self.eal.threads();
        let hooks = ThreadHooks {
            enter: Box::new(move |c| {
                if let Some(Some(cpu)) = cpus.get(usize::from(c)) {
                    if let Err(e) = cpu::pin_current(&[*cpu]) {
                        eprintln!("burst gen: core {c} not pinned to CPU {cpu}: {e}");
                    }
                }
                if let Err(e) = threads.register() {
                    eprintln!(
                        "burst gen: core {c} not registered with the EAL (no mempool cache): {e}"
                    );
                }
            }),
            leave: Box::new(move |_| threads.unregister()),
        };
        // Queue 0 of the one port, per core.
        let mut queues: Vec<DpdkQueue> =
            self.lab.queues.iter_mut().map(|qs| qs.remove(0)).collect();
        for q in &mut queues {
            // Our frames carry software checksums and no offload request.
            q.set_tx_checks(false);
        }
        let r = srun::run_threads(cfg, &mut queues, mac, &neigh, Tsc, self.hz, &hooks, live);
        for (qs, q) in self.lab.queues.iter_mut().zip(queues) {
            qs.insert(0, q);
        }
        r
    }
}
