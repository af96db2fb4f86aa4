//! A TCP echo server on burst: every worker listens on `--port`.
//!
//! ```text
//! sudo scripts/lab.sh up host
//! cargo run --release -p burst-apps --features dpdk --example tcp_echo -- -c configs/host.toml
//! sudo ip netns exec blpeer nc 198.18.0.2 7007
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use burst_apps::echo::EchoServer;
use clap::Parser;

/// TCP echo server on every worker of a burst node.
#[derive(Parser)]
struct Args {
    /// Configuration file (the same as `burst run`'s).
    #[arg(short, long)]
    config: PathBuf,
    /// TCP port to echo on.
    #[arg(long, default_value_t = 7007)]
    port: u16,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let a = Args::parse();
    match burst_runtime::app::run(&a.config, |_, _| EchoServer::new(a.port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcp_echo: {e}");
            ExitCode::FAILURE
        }
    }
}
