//! TCP bulk goodput and connection rate, burst against smoltcp, one thread each, in-memory.
//!
//! ```text
//! tcpbench burst-bulk BYTES [--check]    two burst TcpStacks, real frames on an in-memory link
//! tcpbench burst-bulk-tso BYTES [--check]  the same with TSO super-segments, cut into wire
//!                                        segments in software as the port layer does
//! tcpbench smoltcp-bulk BYTES [--check]  smoltcp: one Interface on its Loopback, two sockets
//! tcpbench burst-cps N                   N sequential connections: open, 100 B request,
//! tcpbench smoltcp-cps N                 1000 B response, close
//! ```
//!
//! Every run prints one line of `key=value` pairs (`mode`, work done, `secs` of wall time, the
//! rate, frame and data-segment counts, virtual-clock jumps) for scripts/bench-tcp.sh. Both
//! stacks build real Ethernet + IPv4 + TCP frames with software checksums and verify them on
//! receipt, at MTU 1500, with 64,240-byte receive and 64 KiB send buffers, on a virtual clock
//! that advances 10 µs per loop iteration (and jumps to the next timer when nothing moves).
//! `--check` compares every received byte with what was sent (not for measuring).

mod burst;
mod smol;

use std::process::ExitCode;

/// Receive buffer of every socket: burst's default (44 × 1460), below 64 KiB so neither side
/// needs window scaling.
const RECV_BUFFER: usize = 64_240;
/// Send buffer of every socket: burst's default.
const SEND_BUFFER: usize = 64 * 1024;
/// Virtual time per loop iteration.
const STEP_MICROS: u64 = 10;
/// Request and response sizes of the connection-rate runs.
const REQUEST: usize = 100;
const RESPONSE: usize = 1000;
/// Server port of every run.
const PORT: u16 = 5001;

/// The byte pattern the senders write: `PATTERN_PERIOD` bytes repeating, stored twice so any
/// window of up to `PATTERN_PERIOD` bytes at any phase is one contiguous slice. The period is
/// prime, so ring wrap-arounds and segment boundaries fall at every phase.
const PATTERN_PERIOD: usize = 65_521;

fn pattern() -> Vec<u8> {
    (0..2 * PATTERN_PERIOD)
        .map(|i| {
            let i = i % PATTERN_PERIOD;
            (i ^ (i >> 8) ^ (i >> 13)) as u8
        })
        .collect()
}

/// What a bulk run measured.
struct BulkResult {
    bytes: u64,
    secs: f64,
    /// Super-segments the sender handed to the link (TSO runs).
    super_segments: u64,
    /// Data segments on the wire.
    data_segments: u64,
    frames: u64,
    jumps: u64,
}

/// What a connection-rate run measured.
struct CpsResult {
    conns: u64,
    secs: f64,
    frames: u64,
    jumps: u64,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: tcpbench (burst-bulk|burst-bulk-tso|smoltcp-bulk) BYTES [--check]\n       tcpbench (burst-cps|smoltcp-cps) CONNECTIONS"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(count)) = (args.first(), args.get(1)) else {
        return usage();
    };
    let Ok(count) = count.parse::<u64>() else {
        return usage();
    };
    let check = args.iter().skip(2).any(|a| a == "--check");
    match mode.as_str() {
        "burst-bulk" | "burst-bulk-tso" | "smoltcp-bulk" => {
            let r = match mode.as_str() {
                "burst-bulk" => burst::bulk(count, check, false),
                "burst-bulk-tso" => burst::bulk(count, check, true),
                _ => smol::bulk(count, check),
            };
            println!(
                "mode={mode} bytes={} secs={:.6} gbps={:.3} super_segments={} data_segments={} frames={} jumps={}",
                r.bytes,
                r.secs,
                r.bytes as f64 * 8.0 / r.secs / 1e9,
                r.super_segments,
                r.data_segments,
                r.frames,
                r.jumps
            );
        }
        "burst-cps" | "smoltcp-cps" => {
            let r = if mode == "burst-cps" {
                burst::cps(count)
            } else {
                smol::cps(count)
            };
            println!(
                "mode={mode} conns={} secs={:.6} cps={:.0} frames={} jumps={}",
                r.conns,
                r.secs,
                r.conns as f64 / r.secs,
                r.frames,
                r.jumps
            );
        }
        _ => return usage(),
    }
    ExitCode::SUCCESS
}
