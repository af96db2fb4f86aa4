//! `burst run` on DPDK ports: EAL, mempool, ports, the node's threads and the control socket,
//! until SIGINT/SIGTERM; then everything is stopped and freed in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use burst_port::clock::{Clock, MonotonicClock};
use burst_port::dpdk::{DpdkPort, DpdkPortConfig, Eal, Mempool, MempoolConfig};
use burst_port::Port;

use crate::config::Config;
use crate::node::{Node, NodeConfig};
use crate::{cpu, devices};

/// Sets `stop` on SIGINT and SIGTERM.
pub fn on_signals(stop: &Arc<AtomicBool>) -> Result<(), String> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    Ok(())
}

/// Runs the configuration with its built-in services (`burst run`) until `stop` is set.
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> Result<(), String> {
    run_app(cfg, stop, |cfg, _| {
        crate::app::services::Services::from_node(&NodeConfig::from(cfg))
    })
}

/// Runs the configuration with `make(cfg, worker)` as each worker's application, until `stop`
/// is set or every worker's application finished (`Cx::finish`).
pub fn run_app<A, F>(cfg: &Config, stop: Arc<AtomicBool>, mut make: F) -> Result<(), String>
where
    A: crate::app::App<burst_port::dpdk::DpdkQueue> + Send + 'static,
    F: FnMut(&Config, usize) -> A,
{
    let cores = cfg.eal.cores;
    // Before the EAL pins this thread to its main lcore: the CPUs we may use.
    let placement = cpu::place(cfg.eal.cpus.as_deref(), usize::from(cores), &cpu::allowed())?
        .with_control(cfg.eal.control_cpus.as_deref(), &cpu::allowed())?;
    let (eal_args, plans) =
        devices::plan(&cfg.eal.args, &cfg.ports, cores, cfg.eal.mbuf_data_room)?;
    for (p, plan) in cfg.ports.iter().zip(&plans) {
        if let Some(iface) = &plan.iface {
            if !std::path::Path::new("/sys/class/net").join(iface).exists() {
                return Err(format!(
                    "port {}: the kernel interface {iface} (iface= of {}) does not exist: create \
                     it, or fix the --vdev in [eal] args",
                    p.name, p.device
                ));
            }
        }
    }
    let eal = Eal::init(&eal_args).map_err(|e| {
        format!("DPDK EAL: {e} (the EAL's own messages above say why; check [eal] args)")
    })?;
    // The EAL pinned this thread to its main lcore, which may be a worker's CPU (`-l 1` with
    // `cpus = [1]`). Every thread started from here on inherits this thread's CPUs (the
    // control thread, the control socket and its connections, the metrics server): give it
    // the ones no worker has, before any of them starts, or a capture streamed to the CLI
    // runs its socket writes on the worker's CPU.
    if let Err(e) = cpu::pin_current(&placement.others) {
        tracing::warn!(
            "control threads not placed on CPUs {:?}: {e}",
            placement.others
        );
    }
    let pool = Mempool::new(
        &eal,
        "burst",
        &MempoolConfig {
            size: cfg.eal.mbufs,
            // DPDK's data room includes the 128-byte headroom.
            data_room: cfg.eal.mbuf_data_room.saturating_add(128),
            ..MempoolConfig::default()
        },
    )
    .map_err(|e| format!("mempool: {e}"))?;
    let mut ports = Vec::new();
    for (p, plan) in cfg.ports.iter().zip(&plans) {
        let rx_pool = match plan.rx_pool {
            None => None,
            Some((size, room)) => Some(
                Mempool::new(
                    &eal,
                    &format!("burst-rx{}", p.id.0),
                    &MempoolConfig {
                        size,
                        cache: 32,
                        data_room: room as u16,
                        ..MempoolConfig::default()
                    },
                )
                .map_err(|e| {
                    format!(
                        "port {}: a pool of {size} receive buffers of {room} bytes (frames up \
                         to {} bytes arrive whole): {e}; give the EAL more memory (-m), or set \
                         [[port]] max_frame lower (e.g. 9216 for jumbo frames without \
                         TSO/GRO super-frames)",
                        p.name, plan.max_frame
                    )
                })?,
            ),
        };
        // Everything the port is opened with comes from its plan (tested in `devices`).
        let pc = DpdkPortConfig {
            name: p.name.clone(),
            queues: plan.queues,
            mtu: Some(plan.mtu),
            mac: plan.mac,
            offloads: plan.offloads,
            rx_pool,
            ..DpdkPortConfig::default()
        };
        let port = DpdkPort::open(&p.device, &pc, &pool).map_err(|e| match e {
            burst_port::dpdk::DpdkError::NoSuchPort(_) => format!(
                "port {}: no DPDK device named {}: the EAL did not create it (its messages \
                 above say why); add --vdev={},... to [eal] args, or for a PCI NIC bind it to a \
                 DPDK driver and use its PCI address",
                p.name, p.device, p.device
            ),
            e => format!("port {} ({}): {e}", p.name, p.device),
        })?;
        let i = port.info();
        let partial = p.expects_partial_checksums(&i.driver);
        tracing::info!(port = %p.name, device = %p.device, driver = %i.driver, mac = %i.mac,
            mtu = i.mtu, queues = i.queues, max_frame = plan.max_frame,
            partial_checksums = partial, "port up");
        if let Some(iface) = &plan.iface {
            match devices::kernel_mtu(iface) {
                Some(k) if k < p.mtu => tracing::warn!(
                    port = %p.name,
                    iface,
                    "the kernel interface {iface} has MTU {k} but [[port]] mtu = {}: frames \
                     above {} bytes cannot cross it (ip link set {iface} mtu {})",
                    p.mtu,
                    u32::from(k) + 14,
                    p.mtu
                ),
                _ => {}
            }
        }
        ports.push(port);
    }
    // Ports with a receive pool of their own (kernel-backed devices with large frames): their
    // pools are reported beside the shared one.
    let rx_pools: Vec<(String, Mempool)> = cfg
        .ports
        .iter()
        .zip(&plans)
        .zip(&ports)
        .filter(|((_, plan), _)| plan.rx_pool.is_some())
        .map(|((p, _), port)| (format!("pool rx {}", p.name), port.rx_pool().clone()))
        .collect();
    let clock = MonotonicClock::default();
    let mut node = Node::build_app(&NodeConfig::from(cfg), ports, clock.now(), |_, w| {
        make(cfg, w)
    })?;
    let finished = node.finished.clone();
    let workers = node.workers.len();
    // `ctl stats` shows each pool's occupancy (the smoke tests compare it idle and at the end).
    for (title, p) in std::iter::once(("pool".to_owned(), pool.clone())).chain(rx_pools) {
        node.control.add_pool(
            title,
            Box::new(move || crate::control::PoolFigures {
                size: u64::from(p.size()),
                in_use: u64::from(p.in_use()),
                available: u64::from(p.avail()),
            }),
        );
    }
    let server = crate::server::serve(&cfg.control.socket, node.commands.clone(), stop.clone())
        .map_err(|e| format!("control socket {}: {e}", cfg.control.socket.display()))?;
    let metrics =
        crate::metrics::serve_configured(&cfg.metrics, node.commands.clone(), stop.clone())?
            .map(|(h, _)| h);
    // Workers register with the EAL: an lcore id each, hence a per-lcore mempool cache (every
    // mbuf alloc/free otherwise goes to the pool's shared ring).
    // The threads are joined below, before the EAL is cleaned up.
    let threads = eal.threads();
    let worker_cpus = placement.workers.clone();
    let handles = node
        .spawn_with(
            clock,
            stop.clone(),
            Arc::new(move |w| {
                match worker_cpus.get(w).copied().flatten() {
                    Some(c) => match cpu::pin_current(&[c]) {
                        Ok(()) => tracing::info!(worker = w, cpu = c, "worker pinned"),
                        Err(e) => tracing::warn!(worker = w, cpu = c, "worker not pinned: {e}"),
                    },
                    None => tracing::info!(
                        worker = w,
                        "worker not pinned ([eal] cpus = [], or fewer CPUs than workers)"
                    ),
                }
                match threads.register() {
                    Ok(lcore) => {
                        tracing::debug!(worker = w, lcore, "worker registered with the EAL")
                    }
                    Err(e) => tracing::warn!(
                        worker = w,
                        "worker not registered with the EAL (no mempool cache): {e}"
                    ),
                }
            }),
            Arc::new(move |_| threads.unregister()),
        )
        .map_err(|e| format!("threads: {e}"))?;
    tracing::info!(workers = cores, socket = %cfg.control.socket.display(), "burst running");
    while !stop.load(Ordering::Relaxed) {
        if finished.load(Ordering::Acquire) >= workers {
            tracing::info!("every worker's application finished");
            stop.store(true, Ordering::Relaxed);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!("stopping");
    for h in handles {
        let _ = h.join();
    }
    let _ = server.join();
    if let Some(m) = metrics {
        let _ = m.join();
    }
    // Ports (stopped and closed by their drops, inside the node's threads' state), then the
    // pool, then the EAL.
    drop(pool);
    drop(eal);
    Ok(())
}
