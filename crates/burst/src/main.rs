//! The `burst` command: `run` a configuration, talk to it with `ctl`, generate load with `gen`,
//! `decode` pcap files.

mod capture;
mod ctl;
mod decode;
mod gen;
mod top;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// burst: a kernel-bypass TCP/IP stack, router and load generator.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stack on the ports a configuration names, until SIGINT/SIGTERM.
    Run {
        /// Configuration file (TOML; see docs/configuration.md).
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
    },
    /// Talk to a running `burst run` (arp, route, ping, tracert, stats).
    Ctl {
        #[command(flatten)]
        target: ctl::Target,
        #[command(subcommand)]
        command: ctl::CtlCommand,
    },
    /// Generate load: streams at exact rates with a latency signature in every packet, RFC 2544,
    /// report merging (docs/gen.md).
    Gen(Box<gen::GenArgs>),
    /// Decode a pcap file with burst's own parsers, one line per frame (like `tcpdump -r`).
    Decode {
        /// Re-emit every frame from its parsed values and require byte-exact output and valid
        /// checksums; exit non-zero otherwise.
        #[arg(long)]
        verify: bool,
        /// Print tab-separated fields (the columns `scripts/check-fixtures.sh` compares with
        /// tshark) instead of the summary.
        #[arg(long)]
        fields: bool,
        /// pcap files to read.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BURST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. } | Command::Gen(_)) {
        // The tools end quietly when their reader goes away (`burst ctl netstat -s | head`), as
        // Unix tools do, instead of failing on the broken pipe; the daemon keeps ignoring
        // SIGPIPE so a ctl client that disconnects cannot kill it.
        restore_sigpipe();
    }
    let result = match cli.command {
        Command::Run { config } => run(&config),
        Command::Ctl { target, command } => ctl::run(&target, command),
        Command::Gen(a) => gen::run(*a),
        Command::Decode {
            verify,
            fields,
            files,
        } => decode::run(&files, verify, fields),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("burst: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Puts SIGPIPE back to its default action (Rust ignores it at start-up).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: `signal` with SIG_DFL installs no handler code; it only changes how this
    // single-threaded tool process ends on a write to a closed pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(path: &std::path::Path) -> anyhow::Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let cfg = burst_runtime::config::Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    run_config(&cfg, path, stop)
}

/// Runs `cfg` (read from `path`) on the port layer its `[backend] kind` names, until `stop`.
fn run_config(
    cfg: &burst_runtime::config::Config,
    path: &std::path::Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    match cfg.backend {
        burst_runtime::config::Backend::Dpdk => run_dpdk(cfg, stop),
        burst_runtime::config::Backend::Mem => {
            anyhow::bail!("{}: backend \"mem\" runs inside tests (crates/runtime/tests); `burst run` needs DPDK ports", path.display())
        }
    }
}

#[cfg(feature = "dpdk")]
fn run_dpdk(
    cfg: &burst_runtime::config::Config,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    burst_runtime::daemon::run(cfg, stop).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(not(feature = "dpdk"))]
fn run_dpdk(
    _cfg: &burst_runtime::config::Config,
    _stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "this burst was built without DPDK: rebuild with `--features dpdk` (scripts/run.sh does)"
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use burst_runtime::config::Config;

    /// `[backend] kind`: `dpdk` opens DPDK ports (here, without the DPDK build, it says how to
    /// get one) and needs each port's `device`; `mem` is refused by `burst run` and names each
    /// port's in-memory device after the port.
    #[test]
    fn backend_kind_picks_the_port_layer() {
        let file = |kind: &str, device: &str| {
            format!(
                "[backend]\nkind = \"{kind}\"\n[[port]]\nname = \"p0\"\n{device}\
                 addresses = [\"198.18.0.2/24\"]\n"
            )
        };
        // Stopped before it starts, should it ever get that far.
        let stop = Arc::new(AtomicBool::new(true));
        let mem = Config::parse(&file("mem", ""), "t.toml").unwrap();
        assert_eq!(mem.ports[0].device, "p0");
        let e = super::run_config(&mem, Path::new("t.toml"), stop.clone()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml: backend \"mem\" runs inside tests"),
            "{e}"
        );
        let e = Config::parse(&file("dpdk", ""), "t.toml").unwrap_err();
        assert_eq!(e.key, "port[0].device");
        let dpdk = Config::parse(&file("dpdk", "device = \"net_null0\"\n"), "t.toml").unwrap();
        assert_eq!(dpdk.ports[0].device, "net_null0");
        // With DPDK built in, this would initialise the EAL in the test process: only the
        // build without it is checked here (the DPDK path is scripts/smoke-*.sh's).
        #[cfg(not(feature = "dpdk"))]
        {
            let e = super::run_config(&dpdk, Path::new("t.toml"), stop).unwrap_err();
            assert!(e.to_string().contains("built without DPDK"), "{e}");
        }
    }
}
