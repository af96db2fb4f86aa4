//! A minimal HTTP/1.1 client on burst: fetches a URL `-n` times over keep-alive connections,
//! one per worker (each worker opens its own: active opens from every worker), then prints
//! the latency percentiles merged from the workers' histograms.
//!
//! ```text
//! cargo run --release -p burst-apps --features dpdk --example http_get -- \
//!     -c configs/host.toml -n 1000 http://198.18.0.1:8000/
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use burst_apps::http_get::{merge, parse_url, HttpGet};
use burst_port::Nanos;
use clap::Parser;

/// HTTP/1.1 keep-alive client on every worker of a burst node.
#[derive(Parser)]
struct Args {
    /// Configuration file (the same as `burst run`'s).
    #[arg(short, long)]
    config: PathBuf,
    /// Requests in all (shared out between the workers).
    #[arg(short = 'n', long, default_value_t = 100)]
    requests: u64,
    /// Seconds before a request counts as failed.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// `http://A.B.C.D[:PORT]/PATH` (no resolver: an IPv4 address).
    url: String,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let a = Args::parse();
    let (target, path) = match parse_url(&a.url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("http_get: {e}");
            return ExitCode::from(2);
        }
    };
    let host = target.ip().to_string();
    let (tx, rx) = mpsc::channel();
    let timeout = Nanos((a.timeout * 1e9) as u64);
    let r = burst_runtime::app::run(&a.config, |cfg, w| {
        let workers = u64::from(cfg.eal.cores.max(1));
        // This worker's share: n / workers, the first n % workers one more.
        let share = a.requests / workers + u64::from((w as u64) < a.requests % workers);
        HttpGet::new(
            target,
            &host,
            &path,
            share,
            Nanos::ZERO,
            timeout,
            Some(tx.clone()),
        )
    });
    drop(tx);
    if let Err(e) = r {
        eprintln!("http_get: {e}");
        return ExitCode::FAILURE;
    }
    let results: Vec<_> = rx.try_iter().collect();
    for r in &results {
        println!(
            "worker {}: {} ok, {} errors, {} connections",
            r.worker, r.ok, r.errors, r.connections
        );
    }
    let Some(m) = merge(&results) else {
        eprintln!("http_get: no worker reported (stopped before any finished)");
        return ExitCode::FAILURE;
    };
    let secs = m.elapsed.0 as f64 / 1e9;
    println!(
        "{} requests: {} ok ({} not 2xx), {} errors, {} body bytes, {:.3} s, {:.0} requests/s",
        a.requests,
        m.ok,
        m.non_2xx,
        m.errors,
        m.body_bytes,
        secs,
        m.ok as f64 / secs.max(1e-9)
    );
    let h = &m.latency_us;
    if !h.is_empty() {
        println!(
            "latency us: min {} p50 {} p90 {} p99 {} p99.9 {} max {}",
            h.min(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    if m.ok == a.requests && m.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
