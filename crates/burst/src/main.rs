//! The `burst` command: today the packet decoder; the router, `run` and `ctl` come with the
//! runtime issues.

mod decode;

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
    let cli = Cli::parse();
    let result = match cli.command {
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
