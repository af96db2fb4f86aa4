//! io forwarding between two DPDK ports on one core (testpmd's `--forward-mode=io`): receive a
//! burst on one port, transmit the same batch on the other, free what did not go, no
//! per-packet work. Prints rx/tx Mpps per port and in total.
//!
//! ```text
//! cargo run --release -p burst-port --features dpdk --example iofwd -- \
//!     [--seconds N] [--burst N] [--mbufs N] [--tx-checks] [--verbose] [--port NAME --port NAME] -- <EAL args>
//! e.g. ... -- --seconds 5 -- --no-huge --no-pci --no-shconf -m 512 -l 1 \
//!     --vdev=net_null0 --vdev=net_null1
//! ```
//! Without `--port`, the first two ports DPDK lists are used.

use std::process::ExitCode;

use burst_port::dpdk::{
    tsc, tsc_hz, DpdkPort, DpdkPortConfig, DpdkQueue, Eal, Mempool, MempoolConfig,
};
use burst_port::{Batch, Port, Queue, BURST_MAX};

struct Opts {
    seconds: u64,
    burst: usize,
    mbufs: u32,
    verbose: bool,
    tx_checks: bool,
    ports: Vec<String>,
    eal: Vec<String>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        seconds: 5,
        burst: 32,
        mbufs: 16383,
        verbose: false,
        tx_checks: false,
        ports: Vec::new(),
        eal: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = val("--seconds")?.parse().map_err(|e| format!("{e}"))?,
            "--burst" => o.burst = val("--burst")?.parse().map_err(|e| format!("{e}"))?,
            "--mbufs" => o.mbufs = val("--mbufs")?.parse().map_err(|e| format!("{e}"))?,
            "--port" => o.ports.push(val("--port")?),
            "--verbose" | "-v" => o.verbose = true,
            "--tx-checks" => o.tx_checks = true,
            "--" => {
                o.eal = it.collect();
                break;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.burst == 0 || o.burst > BURST_MAX {
        return Err(format!("--burst must be 1..={BURST_MAX}"));
    }
    Ok(o)
}

fn mpps(pkts: u64, ticks: u64, hz: u64) -> f64 {
    pkts as f64 * hz as f64 / ticks.max(1) as f64 / 1e6
}

fn run(o: Opts) -> Result<(), String> {
    let eal = Eal::init(&o.eal).map_err(|e| e.to_string())?;
    let names = if o.ports.is_empty() {
        eal.port_names()
    } else {
        o.ports.clone()
    };
    if names.len() < 2 {
        return Err(format!("need two ports, DPDK has {names:?}"));
    }
    println!("ports available: {:?}", eal.port_names());
    let pool_cfg = MempoolConfig {
        size: o.mbufs,
        ..MempoolConfig::default()
    };
    let pool = Mempool::new(&eal, "iofwd", &pool_cfg).map_err(|e| e.to_string())?;
    let cfg = DpdkPortConfig::default();
    let mut ports = Vec::new();
    let mut qs: Vec<DpdkQueue> = Vec::new();
    for n in &names[..2] {
        let mut p = DpdkPort::open(n, &cfg, &pool).map_err(|e| format!("{n}: {e}"))?;
        let mut q = p.take_queue(0).expect("queue 0");
        // Forwarded packets request no offloads: hand them to the driver as they are, as
        // testpmd's io mode does (--tx-checks measures the checked path instead).
        q.set_tx_checks(o.tx_checks);
        qs.push(q);
        println!(
            "{n}: driver {} mac {} caps {:?}",
            p.info().driver,
            p.info().mac,
            p.info().caps
        );
        ports.push(p);
    }

    let hz = tsc_hz(&eal);
    let mut rx = [0u64; 2];
    let mut tx = [0u64; 2];
    let mut last = (rx, tx);
    let mut batch = Batch::new();
    let start = tsc();
    let end = start + o.seconds * hz;
    let mut next_report = start + hz;
    let mut now = start;
    while now < end {
        // Check the clock every 64 rounds: rdtsc costs more than a round on an idle port.
        for _ in 0..64 {
            for i in 0..2 {
                let n = qs[i].rx_burst_max(&mut batch, o.burst);
                if n == 0 {
                    continue;
                }
                rx[i] += n as u64;
                tx[1 - i] += qs[1 - i].tx_burst(&mut batch) as u64;
                batch.clear(); // frees what the tx ring did not take
            }
        }
        now = tsc();
        if o.verbose && now >= next_report {
            let d = |a: [u64; 2], b: [u64; 2]| (a[0] - b[0] + a[1] - b[1]) as f64 / 1e6;
            println!("rx {:.2} Mpps tx {:.2} Mpps", d(rx, last.0), d(tx, last.1));
            last = (rx, tx);
            next_report += hz;
        }
    }
    let ticks = now - start;
    for i in 0..2 {
        println!(
            "{}: rx {:.2} Mpps tx {:.2} Mpps (rx {} tx {} packets)",
            names[i],
            mpps(rx[i], ticks, hz),
            mpps(tx[i], ticks, hz),
            rx[i],
            tx[i]
        );
    }
    println!(
        "total: rx {:.2} Mpps tx {:.2} Mpps over {:.2} s (burst {})",
        mpps(rx[0] + rx[1], ticks, hz),
        mpps(tx[0] + tx[1], ticks, hz),
        ticks as f64 / hz as f64,
        o.burst
    );
    drop(batch);
    drop(qs);
    drop(ports);
    if pool.in_use() != 0 {
        return Err(format!("{} mbufs leaked", pool.in_use()));
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iofwd: {e}");
            ExitCode::FAILURE
        }
    }
}
