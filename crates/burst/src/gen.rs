//! `burst gen`: the load generator's command line (docs/gen.md). Parses, validates (before any
//! port opens), runs on DPDK and writes the reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use burst_gen::config::GenConfig;
#[cfg(feature = "dpdk")]
use burst_gen::run::Live;
use burst_gen::Report;
use clap::{Args, Subcommand};

/// Where the results go.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct Output {
    /// Write the report as JSON (configuration, versions, machine, per-second series,
    /// histograms) to this file.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) json: Option<PathBuf>,
    /// Write the per-second series as CSV to this file.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) csv: Option<PathBuf>,
    /// Plot rate and latency over time (RFC 2544: throughput and latency vs frame size) as SVG.
    #[arg(long, value_name = "FILE.svg", global = true)]
    pub(crate) plot: Option<PathBuf>,
    /// No live line.
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
    /// Plain live lines even on a terminal.
    #[arg(long, global = true)]
    pub(crate) plain: bool,
    /// Serve the live figures for Prometheus at http://ADDR/metrics while the run lasts
    /// (e.g. 127.0.0.1:9109).
    #[arg(long, value_name = "ADDR:PORT", global = true)]
    pub(crate) metrics: Option<std::net::SocketAddr>,
}

/// One stream from the command line.
#[derive(Args, Debug, Clone)]
pub(crate) struct Quick {
    /// IPv4 destination.
    #[arg(long)]
    pub(crate) dst: String,
    /// IPv4 source (default: the port's first address).
    #[arg(long)]
    pub(crate) src: Option<String>,
    /// Port the stream leaves by (default: the only port).
    #[arg(long)]
    pub(crate) port: Option<String>,
    /// Rate: 5Mpps, 250kpps, 1Gbps (L1), 50% of the line rate, or max.
    #[arg(long, default_value = "1000pps")]
    pub(crate) rate: String,
    /// Frame size with FCS (64), a range (64-1518) or an IMIX preset (imix, imix-ietf,
    /// imix-agilent).
    #[arg(long, default_value = "64")]
    pub(crate) size: String,
    /// How long to send (the test's duration): 10s, 1m...
    #[arg(long, default_value = "10s")]
    pub(crate) duration: String,
    /// Packets to send (default: until the duration).
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Destination MAC (default: resolved with ARP for --gateway, else --dst).
    #[arg(long)]
    pub(crate) dst_mac: Option<String>,
    /// Next hop to resolve with ARP.
    #[arg(long)]
    pub(crate) gateway: Option<String>,
    /// TCP/UDP destination port.
    #[arg(long)]
    pub(crate) dst_port: Option<u16>,
    /// TCP/UDP source port.
    #[arg(long)]
    pub(crate) src_port: Option<u16>,
    /// Poisson spacing instead of constant.
    #[arg(long)]
    pub(crate) poisson: bool,
}

/// `burst gen` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum GenCommand {
    /// One UDP stream from the command line (the file gives [eal] and [[port]]).
    Udp(Quick),
    /// One TCP SYN stream from the command line.
    Tcp(Quick),
    /// One ICMP echo stream from the command line.
    Icmp(Quick),
    /// RFC 2544 throughput, latency, frame loss rate and back-to-back on the file's streams,
    /// for each frame size of [test.rfc2544].
    Rfc2544,
    /// Merge reports (JSON) of several runs, processes or machines exactly.
    Merge {
        /// Reports written by --json.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `burst gen` itself.
#[derive(Args, Debug)]
pub(crate) struct GenArgs {
    /// Configuration: [eal], [[port]], [[stream]], [test] (docs/gen.md).
    #[arg(short = 'c', long = "config", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Start at this time (Unix seconds, e.g. $(date +%s --date='+10 seconds')), so that an
    /// orchestrator can start many generators together.
    #[arg(long, value_name = "UNIX_SECONDS", global = true)]
    pub(crate) start_at: Option<f64>,
    /// Check the configuration and stop (no port is opened).
    #[arg(long, global = true)]
    pub(crate) check: bool,
    #[command(flatten)]
    pub(crate) out: Output,
    #[command(subcommand)]
    pub(crate) command: Option<GenCommand>,
}

/// The flag a quick stream's key came from.
fn flag_of(key: &str) -> &str {
    match key {
        "dst" => "--dst",
        "src" => "--src",
        "port" => "--port",
        "rate" => "--rate",
        "size" => "--size",
        "count" => "--count",
        "dst_mac" => "--dst-mac",
        "gateway" => "--gateway",
        "dst_port" => "--dst-port",
        "src_port" => "--src-port",
        _ => key,
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The configuration with the quick stream appended (errors in it name the flag).
fn quick_config(path: &Path, protocol: &str, q: &Quick) -> anyhow::Result<GenConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut s = format!("\n[[stream]]\nname = \"cli\"\nprotocol = \"{protocol}\"\n");
    let mut kv = |k: &str, v: String| s.push_str(&format!("{k} = {v}\n"));
    kv("dst", toml_str(&q.dst));
    kv("rate", toml_str(&q.rate));
    match q.size.parse::<u16>() {
        Ok(n) => kv("size", n.to_string()),
        Err(_) => kv("size", toml_str(&q.size)),
    }
    if let Some(v) = &q.src {
        kv("src", toml_str(v));
    }
    if let Some(v) = &q.port {
        kv("port", toml_str(v));
    }
    if let Some(v) = q.count {
        kv("count", v.to_string());
    }
    if let Some(v) = &q.dst_mac {
        kv("dst_mac", toml_str(v));
    }
    if let Some(v) = &q.gateway {
        kv("gateway", toml_str(v));
    }
    if let Some(v) = q.dst_port {
        kv("dst_port", v.to_string());
    }
    if let Some(v) = q.src_port {
        kv("src_port", v.to_string());
    }
    if q.poisson {
        kv("pattern", toml_str("poisson"));
    }
    let duration = burst_runtime::config::parse_duration(&q.duration).ok_or_else(|| {
        anyhow!(
            "--duration {:?}: not a duration (e.g. 10s, 1m30s)",
            q.duration
        )
    })?;
    let origin = path.display().to_string();
    let file_streams = text.matches("[[stream]]").count();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut cfg = GenConfig::parse_in(&format!("{text}{s}"), &origin, dir).map_err(|e| {
        let prefix = format!("stream[{file_streams}].");
        match e.key.strip_prefix(&prefix) {
            Some(k) => anyhow!("command line: {}: {}", flag_of(k), e.reason),
            None => anyhow!("{e}"),
        }
    })?;
    if duration.0 == 0 || duration > burst_port::Nanos::from_secs(86_400) {
        bail!("--duration: must be more than 0 and at most 1d");
    }
    cfg.test.duration = duration;
    Ok(cfg)
}

/// Writes the report where asked and prints it.
fn emit(r: &Report, out: &Output) -> anyhow::Result<()> {
    print!("{}", r.text());
    if let Some(p) = &out.json {
        std::fs::write(p, serde_json::to_string_pretty(r)?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &out.csv {
        std::fs::write(p, r.csv().map_err(|e| anyhow!(e))?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &out.plot {
        burst_gen::plot::run(r, p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
    }
    Ok(())
}

#[cfg(feature = "dpdk")]
fn live(out: &Output, secs: u64) -> Live {
    if out.quiet {
        Live::Quiet
    } else if out.plain {
        Live::Plain
    } else {
        Live::auto(secs)
    }
}

fn start_delay(start_at: Option<f64>) -> anyhow::Result<Duration> {
    let Some(t) = start_at else {
        return Ok(Duration::ZERO);
    };
    let now = burst_gen::run::unix_now();
    if t < now {
        bail!("--start-at {t}: that time has passed (now is {now:.0})");
    }
    if t - now > 86_400.0 {
        bail!("--start-at {t}: more than a day from now");
    }
    Ok(Duration::from_secs_f64(t - now))
}

/// `burst gen ...`.
pub(crate) fn run(a: GenArgs) -> anyhow::Result<()> {
    if let Some(GenCommand::Merge { files }) = &a.command {
        let mut reports = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("{}: cannot read", f.display()))?;
            let r: Report = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{}: not a burst gen report (--json): {e}", f.display()))?;
            reports.push(r);
        }
        let m = Report::merge(&reports).map_err(|e| anyhow!(e))?;
        return emit(&m, &a.out);
    }
    let Some(path) = &a.config else {
        bail!("-c FILE is required (the [eal], [[port]] and [[stream]] sections; docs/gen.md)");
    };
    let cfg = match &a.command {
        Some(GenCommand::Udp(q)) => quick_config(path, "udp", q)?,
        Some(GenCommand::Tcp(q)) => quick_config(path, "tcp", q)?,
        Some(GenCommand::Icmp(q)) => quick_config(path, "icmp", q)?,
        _ => GenConfig::load(path).map_err(|e| anyhow!("{e}"))?,
    };
    let stateful = !cfg.clients.is_empty() || !cfg.servers.is_empty();
    if stateful {
        burst_gen::stateful::run::check(&cfg).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    if a.check {
        println!(
            "{}: ok ({} stream(s), {} client(s), {} server(s), {} port(s), {} core(s))",
            path.display(),
            cfg.streams.len(),
            cfg.clients.len(),
            cfg.servers.len(),
            cfg.ports.len(),
            cfg.cores()
        );
        return Ok(());
    }
    if cfg.backend == burst_runtime::config::Backend::Mem {
        bail!(
            "{}: backend \"mem\" runs inside tests (crates/gen/tests); `burst gen` needs DPDK ports",
            path.display()
        );
    }
    let delay = start_delay(a.start_at)?;
    if stateful {
        if a.command.is_some()
            || a.start_at.is_some()
            || a.out.csv.is_some()
            || a.out.plot.is_some()
        {
            bail!(
                "{}: a [[client]]/[[server]] run takes -c, --json, --quiet and --plain only \
                 (no subcommand, --start-at, --csv or --plot yet)",
                path.display()
            );
        }
        return run_stateful(&cfg, &a);
    }
    run_dpdk(&cfg, &a, delay)
}

/// `--metrics`: the endpoint, for as long as the returned guard lives, and the figures it serves.
#[cfg(feature = "dpdk")]
struct Exporter {
    metrics: std::sync::Arc<burst_gen::metrics::GenMetrics>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "dpdk")]
impl Exporter {
    fn start(cfg: &GenConfig, addr: std::net::SocketAddr) -> anyhow::Result<Exporter> {
        let metrics = std::sync::Arc::new(burst_gen::metrics::GenMetrics::new(cfg));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let m = metrics.clone();
        let (thread, bound) =
            burst_runtime::metrics::serve_with(addr, stop.clone(), move || Some(m.render()))
                .with_context(|| {
                    format!("--metrics {addr}: cannot listen (pick a free address and port)")
                })?;
        eprintln!("metrics: GET http://{bound}/metrics");
        Ok(Exporter {
            metrics,
            stop,
            thread: Some(thread),
        })
    }

    /// `live`, with every second also recorded for the endpoint.
    fn wrap(&self, live: Live) -> Live {
        Live::Exported(Box::new(live), self.metrics.clone())
    }
}

#[cfg(feature = "dpdk")]
impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(feature = "dpdk")]
fn run_dpdk(cfg: &GenConfig, a: &GenArgs, delay: Duration) -> anyhow::Result<()> {
    let exporter = a
        .out
        .metrics
        .map(|addr| Exporter::start(cfg, addr))
        .transpose()?;
    let exported = |l: Live| match &exporter {
        Some(e) => e.wrap(l),
        None => l,
    };
    let mut lab = burst_gen::dpdk::DpdkLab::open(cfg).map_err(|e| anyhow!(e))?;
    if let Some(GenCommand::Rfc2544) = &a.command {
        let live = if a.out.quiet {
            Live::Quiet
        } else {
            Live::Plain
        };
        // Every trial's seconds reach the endpoint (its counters add up over the search).
        let trial_live = exported(Live::Quiet);
        let res = burst_gen::rfc2544::run(
            cfg,
            &mut |c: &GenConfig| lab.run(c, Duration::ZERO, &trial_live),
            &live,
        )
        .map_err(|e| anyhow!(e))?;
        print!("{}", res.text());
        if let Some(p) = &a.out.json {
            std::fs::write(p, serde_json::to_string_pretty(&res)?)
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
        if let Some(p) = &a.out.csv {
            std::fs::write(p, res.csv())
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
        if let Some(p) = &a.out.plot {
            burst_gen::plot::rfc2544(&res, p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
        }
        return Ok(());
    }
    let l = exported(live(&a.out, cfg.test.duration.0 / 1_000_000_000));
    // --start-at is a wall-clock time: what is left of the wait once the ports are open.
    let delay = match a.start_at {
        Some(_) => start_delay(a.start_at)
            .map_err(|e| anyhow!("{e} (opening the ports took longer than the wait)"))?,
        None => delay,
    };
    let r = lab.run(cfg, delay, &l).map_err(|e| anyhow!(e))?;
    emit(&r, &a.out)
}

/// `burst gen` with `[[client]]` / `[[server]]`.
#[cfg(feature = "dpdk")]
fn run_stateful(cfg: &GenConfig, a: &GenArgs) -> anyhow::Result<()> {
    let mut lab = burst_gen::dpdk::DpdkLab::open(cfg).map_err(|e| anyhow!(e))?;
    let l = if a.out.quiet {
        Live::Quiet
    } else {
        Live::Plain
    };
    let r = lab.run_stateful(cfg, &l).map_err(|e| anyhow!(e))?;
    print!("{}", r.text());
    if let Some(p) = &a.out.json {
        std::fs::write(p, serde_json::to_string_pretty(&r)?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

#[cfg(not(feature = "dpdk"))]
fn run_stateful(_cfg: &GenConfig, _a: &GenArgs) -> anyhow::Result<()> {
    bail!("this burst was built without DPDK: rebuild with `--features dpdk`")
}

#[cfg(not(feature = "dpdk"))]
fn run_dpdk(_cfg: &GenConfig, _a: &GenArgs, _delay: Duration) -> anyhow::Result<()> {
    bail!("this burst was built without DPDK: rebuild with `--features dpdk`")
}
