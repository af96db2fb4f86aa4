//! A UDP responder on burst: every worker answers datagrams on `--port` with `--prefix`
//! followed by the datagram.
//!
//! ```text
//! cargo run --release -p burst-apps --features dpdk --example udp_responder -- -c configs/host.toml
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use burst_apps::udp_responder::UdpResponder;
use clap::Parser;

/// UDP responder on every worker of a burst node.
#[derive(Parser)]
struct Args {
    /// Configuration file (the same as `burst run`'s).
    #[arg(short, long)]
    config: PathBuf,
    /// UDP port.
    #[arg(long, default_value_t = 7008)]
    port: u16,
    /// Bytes put in front of each answer.
    #[arg(long, default_value = "burst:")]
    prefix: String,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let a = Args::parse();
    match burst_runtime::app::run(&a.config, |_, _| {
        UdpResponder::new(a.port, a.prefix.as_bytes())
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("udp_responder: {e}");
            ExitCode::FAILURE
        }
    }
}
