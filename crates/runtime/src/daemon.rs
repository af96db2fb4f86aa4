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

/// Runs the configuration until `stop` is set.
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> Result<(), String> {
    let eal = Eal::init(&cfg.eal.args).map_err(|e| format!("DPDK EAL: {e}"))?;
    let cores = cfg.eal.cores;
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
    for p in &cfg.ports {
        let pc = DpdkPortConfig {
            name: p.name.clone(),
            queues: p.queue_count(cores),
            mtu: Some(p.mtu),
            mac: p.mac,
            offloads: p.offloads,
            ..DpdkPortConfig::default()
        };
        let port = DpdkPort::open(&p.device, &pc, &pool)
            .map_err(|e| format!("port {} ({}): {e}", p.name, p.device))?;
        let i = port.info();
        tracing::info!(port = %p.name, device = %p.device, driver = %i.driver, mac = %i.mac, mtu = i.mtu, queues = i.queues, "port up");
        ports.push(port);
    }
    let clock = MonotonicClock::default();
    let node = Node::build(&NodeConfig::from(cfg), ports, clock.now())?;
    let server = crate::server::serve(&cfg.control.socket, node.commands.clone(), stop.clone())
        .map_err(|e| format!("control socket {}: {e}", cfg.control.socket.display()))?;
    // Workers register with the EAL: an lcore id each, hence a per-lcore mempool cache (every
    // mbuf alloc/free otherwise goes to the pool's shared ring).
    // The threads are joined below, before the EAL is cleaned up.
    let threads = eal.threads();
    let handles = node
        .spawn_with(
            clock,
            stop.clone(),
            Arc::new(move |w| match threads.register() {
                Ok(lcore) => tracing::debug!(worker = w, lcore, "worker registered with the EAL"),
                Err(e) => tracing::warn!(
                    worker = w,
                    "worker not registered with the EAL (no mempool cache): {e}"
                ),
            }),
            Arc::new(move |_| threads.unregister()),
        )
        .map_err(|e| format!("threads: {e}"))?;
    tracing::info!(workers = cores, socket = %cfg.control.socket.display(), "burst running");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!("stopping");
    for h in handles {
        let _ = h.join();
    }
    let _ = server.join();
    // Ports (stopped and closed by their drops, inside the node's threads' state), then the
    // pool, then the EAL.
    drop(pool);
    drop(eal);
    Ok(())
}
