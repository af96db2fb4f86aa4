//! `burst ctl`: parse a command, send it to the running daemon, print the answer the way
//! arp/route/ping/tracert users expect.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burst_runtime::ctl::{self, Request};
use clap::{Args, Subcommand};

mod print;
mod query;
mod request;

use print::*;
use query::*;
use request::*;

/// Where to find the daemon.
#[derive(Args)]
pub(crate) struct Target {
    /// Control socket of the running daemon.
    #[arg(long, default_value = "/run/burst/burst.sock")]
    socket: PathBuf,
    /// Read the control socket path from this configuration file instead.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
}

impl Target {
    fn socket(&self) -> Result<PathBuf> {
        match &self.config {
            Some(c) => Ok(burst_runtime::config::Config::load(c)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .control
                .socket),
            None => Ok(self.socket.clone()),
        }
    }
}

/// `burst ctl` commands.
#[derive(Subcommand)]
pub(crate) enum CtlCommand {
    /// ARP cache: `arp -a`, `arp -s IP MAC [PORT]`, `arp -d IP`.
    Arp {
        /// Show the cache.
        #[arg(short = 'a', conflicts_with_all = ["s", "d"])]
        a: bool,
        /// Add a static entry: IP MAC [PORT].
        #[arg(short = 's', num_args = 2..=3, value_names = ["IP", "MAC", "PORT"])]
        s: Option<Vec<String>>,
        /// Delete an entry.
        #[arg(short = 'd', value_name = "IP")]
        d: Option<Ipv4Addr>,
    },
    /// Routes: `route print`, `route add PREFIX via GW [metric N]`, `route delete PREFIX`.
    Route {
        /// print | add | delete, then its arguments.
        #[arg(num_args = 1.., value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Packet filters: `filter list`, `filter add PORT in|out [--src PREFIX] [--dst PREFIX]
    /// [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]] [--flags syn] [--index N]
    /// permit|deny|count`, `filter delete PORT in|out INDEX`.
    Filter {
        /// list | add | delete, then its arguments.
        #[arg(
            num_args = 1..,
            value_name = "ARGS",
            allow_hyphen_values = true,
            trailing_var_arg = true
        )]
        args: Vec<String>,
    },
    /// Connection tracking: `conntrack [list] [-p tcp|udp|icmp|N] [-s ADDR] [-d ADDR]`,
    /// `conntrack count`, `conntrack flush` (every core's sessions).
    Conntrack {
        /// list | count | flush, then filters.
        #[arg(num_args = 0.., value_name = "ARGS", allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// NAT: dynamic mappings, translated sessions with their ages, pool usage, static mappings
    /// and port forwards.
    Nat,
    /// IPsec: `ipsec` lists the policies per direction in order with their hits and the SAs
    /// with their counters (packets, bytes, replay drops, ICV failures, lifetime), all cores
    /// together; `ipsec sa add KEY=VALUE...` adds an SA at run time (the keys of an
    /// `[[ipsec.sa]]` table: `spi=0x3001 direction=in protocol=ah auth_key=...`);
    /// `ipsec sa delete SPI [in|out]` removes one.
    Ipsec {
        /// Nothing (list), or `sa add KEY=VALUE...`, or `sa delete SPI [in|out]`.
        #[arg(num_args = 0.., value_name = "ARGS", allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The stateful firewall: `firewall list`, `firewall add PORT [--src PREFIX] [--dst PREFIX]
    /// [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]]` (an exception),
    /// `firewall delete PORT INDEX`.
    Firewall {
        /// list | add | delete, then its arguments.
        #[arg(
            num_args = 1..,
            value_name = "ARGS",
            allow_hyphen_values = true,
            trailing_var_arg = true
        )]
        args: Vec<String>,
    },
    /// Echo requests sent by the stack.
    Ping {
        /// Number of requests.
        #[arg(short = 'c', default_value_t = 4)]
        count: u32,
        /// Echo data size in bytes.
        #[arg(short = 's', default_value_t = 56)]
        size: u16,
        /// Path MTU discovery: `do` sets DF.
        #[arg(short = 'M', value_name = "do|dont")]
        pmtu: Option<String>,
        /// TTL.
        #[arg(short = 't')]
        ttl: Option<u8>,
        /// Seconds between requests.
        #[arg(short = 'i', default_value_t = 0.2)]
        interval: f64,
        /// Seconds to wait for each reply.
        #[arg(short = 'W', default_value_t = 1.0)]
        timeout: f64,
        /// Destination.
        dest: Ipv4Addr,
    },
    /// Hops to a destination (echo requests with increasing TTL).
    Tracert {
        /// Most hops.
        #[arg(short = 'h', default_value_t = 30)]
        max_hops: u8,
        /// Seconds to wait for each hop.
        #[arg(short = 'w', default_value_t = 1.0)]
        timeout: f64,
        /// Destination.
        dest: Ipv4Addr,
    },
    /// Per-port and per-core counters, including every drop reason; `--rates`: what moved,
    /// per second, over `--interval`.
    Stats {
        /// Rates over an interval instead of totals.
        #[arg(long)]
        rates: bool,
        /// Seconds between the two samples of `--rates`.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
    /// A live view per core and port: packet and bit rates, drops per reason, burst size, loop
    /// time and busy share (q quits).
    Top {
        /// Seconds between refreshes.
        #[arg(short = 'd', long, default_value_t = 1.0)]
        interval: f64,
        /// Refreshes before it ends by itself (unbounded without it).
        #[arg(short = 'n')]
        iterations: Option<u64>,
    },
    /// Joined multicast groups per port.
    Igmp,
    /// Router discovery: default routers learned from advertisements, ports advertising.
    Rdisc,
    /// Captures what a port receives and/or sends to pcapng: `capture PORT [in|out|both]
    /// [-c N] [-C BYTES] [--snaplen B] [-w FILE|-] [-W SECS] [tcp|udp|icmp|proto N]
    /// [host A.B.C.D] [port N]`.
    Capture {
        /// Port name.
        port: String,
        /// Direction (also accepted as the first word after the port).
        #[arg(long, default_value = "both", value_parser = ["in", "out", "both"])]
        dir: String,
        /// Frame bytes at most (as captured, after the snap length); 0: no byte bound.
        #[arg(short = 'C', default_value_t = 64 << 20)]
        max_bytes: u64,
        /// Frames per second each worker copies at most: a capture at full rate lets the rest
        /// go (counted) instead of slowing forwarding; 0: no limit.
        #[arg(long, default_value_t = 10_000)]
        max_rate: u64,
        /// Frames at most.
        #[arg(short = 'c', default_value_t = 1000)]
        count: u32,
        /// Bytes kept of each frame.
        #[arg(long, default_value_t = 2048)]
        snaplen: u32,
        /// pcapng file to write (`-`: standard output); without it, one line per frame.
        #[arg(short = 'w')]
        write: Option<String>,
        /// Seconds before the capture ends whatever it got.
        #[arg(short = 'W', default_value_t = 10.0)]
        timeout: f64,
        /// Filter words: tcp, udp, icmp, proto N, host A.B.C.D, port N (all must match).
        filter: Vec<String>,
    },
    /// Records the path of the next N received packets through the stack and prints it.
    Trace {
        /// Seconds to wait for the packets.
        #[arg(short = 'w', default_value_t = 10.0)]
        timeout: f64,
        /// Packets to trace.
        count: u32,
    },
    /// `netstat -a` (TCP connections and listeners of every core), `netstat -s`
    /// (per-protocol counters summed over cores) or `netstat -r` (routes).
    Netstat {
        /// Every TCP connection and listener.
        #[arg(short = 'a')]
        a: bool,
        /// Addresses and ports as numbers (always: burst has no resolver; accepted for habit).
        #[arg(short = 'n')]
        n: bool,
        /// Per-protocol statistics.
        #[arg(short = 's')]
        s: bool,
        /// The routing table.
        #[arg(short = 'r')]
        r: bool,
    },
}

/// Runs one ctl command.
pub(crate) fn run(target: &Target, cmd: CtlCommand) -> Result<()> {
    let socket = target.socket()?;
    let req = match cmd {
        CtlCommand::Arp { s: Some(v), .. } => Request::ArpAdd {
            ip: v[0]
                .parse()
                .with_context(|| format!("{}: not an IPv4 address", v[0]))?,
            mac: v[1].clone(),
            port: v.get(2).cloned(),
        },
        CtlCommand::Arp { d: Some(ip), .. } => Request::ArpDelete { ip },
        CtlCommand::Arp { .. } => Request::ArpShow,
        CtlCommand::Route { args } => route_request(&args)?,
        CtlCommand::Filter { args } => filter_request(&args)?,
        CtlCommand::Conntrack { args } => return conntrack(&socket, &args),
        CtlCommand::Nat => Request::Nat,
        CtlCommand::Ipsec { args } => ipsec_request(&args)?,
        CtlCommand::Firewall { args } => firewall_request(&args)?,
        CtlCommand::Ping {
            count,
            size,
            pmtu,
            ttl,
            interval,
            timeout,
            dest,
        } => {
            let dont_frag = match pmtu.as_deref() {
                None | Some("dont") => false,
                Some("do") => true,
                Some(o) => bail!("-M {o}: expected do or dont"),
            };
            if size > 65507 {
                bail!("-s {size}: at most 65507 bytes of echo data fit in a datagram");
            }
            println!(
                "PING {dest} ({dest}) {size}({}) bytes of data.",
                u32::from(size) + 28
            );
            Request::Ping {
                dst: dest,
                count,
                size,
                dont_frag,
                ttl,
                timeout_ms: (timeout * 1000.0) as u32,
                interval_ms: (interval * 1000.0) as u32,
            }
        }
        CtlCommand::Tracert {
            max_hops,
            timeout,
            dest,
        } => {
            println!("Tracing route to {dest} over a maximum of {max_hops} hops\n");
            Request::Tracert {
                dst: dest,
                max_hops,
                timeout_ms: (timeout * 1000.0) as u32,
            }
        }
        CtlCommand::Stats {
            rates: true,
            interval,
        } => {
            return crate::top::print_rates(&socket, interval);
        }
        CtlCommand::Stats { .. } => Request::Stats,
        CtlCommand::Top {
            interval,
            iterations,
        } => return crate::top::run(&socket, interval, iterations),
        CtlCommand::Igmp => Request::Igmp,
        CtlCommand::Rdisc => Request::Rdisc,
        CtlCommand::Capture {
            port,
            dir,
            max_bytes,
            max_rate,
            count,
            snaplen,
            write,
            timeout,
            filter,
        } => {
            // `capture a in …` as tcpdump users type it: a leading direction word.
            let (dir, filter) = match filter.first().map(String::as_str) {
                Some(d @ ("in" | "out" | "both")) => (d.to_string(), &filter[1..]),
                _ => (dir, &filter[..]),
            };
            return crate::capture::run(
                &socket,
                &crate::capture::Capture {
                    port: &port,
                    dir: &dir,
                    count,
                    max_bytes,
                    max_rate,
                    snaplen,
                    timeout,
                    write: write.as_deref(),
                    filter,
                },
            );
        }
        CtlCommand::Trace { timeout, count } => Request::Trace {
            count,
            timeout_ms: (timeout * 1000.0) as u32,
        },
        CtlCommand::Netstat { r: true, .. } => Request::RoutePrint,
        CtlCommand::Netstat { s: true, .. } => {
            return netstat_s(&socket);
        }
        CtlCommand::Netstat { a: true, .. } => Request::Netstat,
        CtlCommand::Netstat { .. } => bail!("usage: netstat -a [-n] | netstat -s | netstat -r"),
    };
    let dst = match &req {
        Request::Ping { dst, .. } => Some(*dst),
        _ => None,
    };
    let mut failed = None;
    ctl::request(&socket, &req, |r| {
        if let Err(e) = print(r, dst) {
            failed = Some(e);
        }
    })
    .with_context(|| format!("control socket {}", socket.display()))?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
