//! `burst ctl`: parse a command, send it to the running daemon, print the answer the way
//! arp/route/ping/tracert users expect.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burst_runtime::ctl::{self, EchoOutcome, Request, Response};
use clap::{Args, Subcommand};

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

const FIREWALL_USAGE: &str = "usage: firewall list | firewall add PORT [--src PREFIX] \
    [--dst PREFIX] [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]] | \
    firewall delete PORT INDEX";

fn firewall_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match a.as_slice() {
        ["list"] => Request::FirewallList,
        ["add", port, rest @ ..] => Request::FirewallAdd {
            port: port.to_string(),
            rule: rest.join(" "),
        },
        ["delete", port, i] => Request::FirewallDelete {
            port: port.to_string(),
            index: i
                .parse()
                .with_context(|| format!("{i}: not an exception index"))?,
        },
        _ => bail!("{FIREWALL_USAGE}"),
    })
}

/// `conntrack ...`: lists (filtered here), counts or flushes every core's sessions, printed
/// like conntrack-tools' `conntrack -L` so the two can be compared line by line.
fn conntrack(socket: &std::path::Path, args: &[String]) -> Result<()> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (verb, rest) = match a.split_first() {
        Some((&v, r)) if matches!(v, "list" | "count" | "flush") => (v, r),
        _ => ("list", &a[..]),
    };
    let (mut proto, mut src, mut dst) = (None, None, None);
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let v = it.next().with_context(|| format!("{w} needs a value"))?;
        match *w {
            "-p" => {
                proto = Some(match *v {
                    "tcp" => 6,
                    "udp" => 17,
                    "icmp" => 1,
                    n => n
                        .parse::<u8>()
                        .with_context(|| format!("-p {n}: expected tcp, udp, icmp or 0..=255"))?,
                })
            }
            "-s" => {
                src = Some(
                    v.parse::<Ipv4Addr>()
                        .with_context(|| format!("{v}: not an address"))?,
                )
            }
            "-d" => {
                dst = Some(
                    v.parse::<Ipv4Addr>()
                        .with_context(|| format!("{v}: not an address"))?,
                )
            }
            _ => bail!("usage: conntrack [list|count|flush] [-p PROTO] [-s ADDR] [-d ADDR]"),
        }
    }
    let req = Request::Conntrack {
        flush: verb == "flush",
    };
    let mut failed = None;
    ctl::request(socket, &req, |r| match r {
        Response::Conntrack {
            sessions,
            missing_cores,
            cut,
        } => {
            let keep: Vec<&ctl::CtSession> = sessions
                .iter()
                .filter(|s| proto.is_none_or(|p| s.proto == p))
                .filter(|s| src.is_none_or(|a| *s.src.ip() == a))
                .filter(|s| dst.is_none_or(|a| *s.dst.ip() == a))
                .collect();
            if verb == "count" {
                println!("{}", keep.len());
            } else {
                for s in &keep {
                    println!("{}", conntrack_line(s));
                }
                eprintln!("conntrack: {} flow entries have been shown.", keep.len());
            }
            if *cut {
                eprintln!("warning: a core held more sessions than it lists");
            }
            if !missing_cores.is_empty() {
                eprintln!("warning: cores {missing_cores:?} did not answer in time");
            }
        }
        Response::Ok => println!("conntrack: every core's table is being flushed"),
        other => {
            if let Err(e) = print(other, None) {
                failed = Some(e);
            }
        }
    })
    .with_context(|| format!("control socket {}", socket.display()))?;
    failed.map_or(Ok(()), Err)
}

/// One session the way `conntrack -L` prints it (protocol name and number, timeout, state,
/// both tuples), then burst's extras (age, packets, core).
fn conntrack_line(s: &ctl::CtSession) -> String {
    let name = match s.proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        _ => "unknown",
    };
    let tuple = |a: &std::net::SocketAddrV4, b: &std::net::SocketAddrV4| {
        if s.proto == 1 {
            format!("src={} dst={} id={}", a.ip(), b.ip(), a.port())
        } else {
            format!(
                "src={} dst={} sport={} dport={}",
                a.ip(),
                b.ip(),
                a.port(),
                b.port()
            )
        }
    };
    let state = if s.proto == 6 {
        format!(" {}", s.state)
    } else {
        String::new()
    };
    let unreplied = if s.state == "UNREPLIED" {
        " [UNREPLIED]"
    } else {
        ""
    };
    format!(
        "{name:<7} {:<2} {}{state} {}{unreplied} {} age={} packets={} core={}{}",
        s.proto,
        s.expires_s,
        tuple(&s.src, &s.dst),
        tuple(&s.reply_src, &s.reply_dst),
        s.age_s,
        s.packets,
        s.core,
        if s.nat { " [NAT]" } else { "" }
    )
}

fn route_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match a.as_slice() {
        ["print"] => Request::RoutePrint,
        ["add", prefix, "via", gw] => Request::RouteAdd {
            prefix: prefix.to_string(),
            via: gw
                .parse()
                .with_context(|| format!("{gw}: not an IPv4 address"))?,
            metric: None,
        },
        ["add", prefix, "via", gw, "metric", m] => Request::RouteAdd {
            prefix: prefix.to_string(),
            via: gw
                .parse()
                .with_context(|| format!("{gw}: not an IPv4 address"))?,
            metric: Some(m.parse().with_context(|| format!("{m}: not a metric"))?),
        },
        ["delete", prefix] => Request::RouteDelete {
            prefix: prefix.to_string(),
        },
        _ => bail!("usage: route print | route add PREFIX via GW [metric N] | route delete PREFIX"),
    })
}

const FILTER_USAGE: &str = "usage: filter list | filter add PORT in|out [--src PREFIX] \
    [--dst PREFIX] [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]] [--flags syn] \
    [--index N] permit|deny|count | filter delete PORT in|out INDEX";

/// `filter ...`: the rule words go to the daemon as they are (it parses and explains errors);
/// only `--index N`, which says where to insert, is taken out here.
fn filter_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = |d: &str| -> Result<String> {
        match d {
            "in" | "out" => Ok(d.to_string()),
            _ => bail!("{d}: expected in or out\n{FILTER_USAGE}"),
        }
    };
    Ok(match a.as_slice() {
        ["list"] => Request::FilterList,
        ["add", port, d, rest @ ..] if !rest.is_empty() => {
            let mut index = None;
            let mut words = Vec::new();
            let mut it = rest.iter();
            while let Some(w) = it.next() {
                if *w == "--index" {
                    let n = it.next().context("--index needs a value")?;
                    if index.is_some() {
                        bail!("--index given twice");
                    }
                    index = Some(
                        n.parse::<usize>()
                            .with_context(|| format!("--index {n}: not an index"))?,
                    );
                } else {
                    words.push(*w);
                }
            }
            Request::FilterAdd {
                port: port.to_string(),
                dir: dir(d)?,
                rule: words.join(" "),
                index,
            }
        }
        ["delete", port, d, i] => Request::FilterDelete {
            port: port.to_string(),
            dir: dir(d)?,
            index: i
                .parse()
                .with_context(|| format!("{i}: not a rule index"))?,
        },
        _ => bail!("{FILTER_USAGE}"),
    })
}

fn print_rdisc(s: &burst_runtime::ctl::RdiscStatus) {
    if s.host_enabled {
        println!(
            "Router discovery (host): on, solicitations to {}",
            s.solicitation_destination
        );
    } else {
        println!("Router discovery (host): off ([router_discovery] enabled = false)");
    }
    if !s.routers.is_empty() {
        println!("Default routers learned:");
        println!(
            "  {:<8} {:>16} {:>12} {:>12}",
            "Port", "Router", "Preference", "Expires in"
        );
        for r in &s.routers {
            println!(
                "  {:<8} {:>16} {:>12} {:>10} s",
                r.port, r.router, r.preference, r.expires_in_s
            );
        }
    }
    if s.advertising.is_empty() {
        println!("Advertising (router): no port ([[port]] router_advertisements)");
    } else {
        println!("Advertising (router) to {}:", s.advertisement_destination);
        println!(
            "  {:<8} {:>12} {:>10} {:>10} {:>8}  Addresses",
            "Port", "Preference", "Lifetime", "Next in", "Sent"
        );
        for a in &s.advertising {
            let addrs: Vec<String> = a.addrs.iter().map(|a| a.to_string()).collect();
            println!(
                "  {:<8} {:>12} {:>8} s {:>8} s {:>8}  {}",
                a.port,
                a.preference,
                a.lifetime_s,
                a.next_in_s,
                a.sent,
                addrs.join(", ")
            );
        }
    }
}

fn print_filters(rules: &[ctl::FilterRule]) {
    if rules.is_empty() {
        println!("No filter rules (every packet is permitted).");
        return;
    }
    let w = rules.iter().map(|r| r.rule.len()).max().unwrap_or(0).max(4);
    println!(
        "{:<10} {:<4} {:>5}  {:<w$}  {:>12}",
        "Port", "Dir", "Index", "Rule", "Hits"
    );
    for r in rules {
        println!(
            "{:<10} {:<4} {:>5}  {:<w$}  {:>12}",
            r.port, r.dir, r.index, r.rule, r.hits
        );
    }
}

fn ms(us: u64) -> String {
    if us < 1000 {
        format!("{:.3}", us as f64 / 1000.0)
    } else {
        format!("{:.1}", us as f64 / 1000.0)
    }
}

fn print(r: &Response, ping_dst: Option<Ipv4Addr>) -> Result<()> {
    match r {
        Response::Ok => {}
        Response::Error { message } => bail!("{message}"),
        Response::Arp { entries } => {
            if entries.is_empty() {
                println!("No ARP Entries Found.");
            }
            let mut last: Option<(&str, Ipv4Addr)> = None;
            for e in entries {
                if last != Some((e.port.as_str(), e.interface)) {
                    println!("\nInterface: {} --- {}", e.interface, e.port);
                    println!("  Internet Address      Physical Address      Type");
                    last = Some((e.port.as_str(), e.interface));
                }
                println!("  {:<21} {:<21} {}", e.ip, e.mac.replace(':', "-"), e.kind);
            }
        }
        Response::Routes { routes } => {
            println!("Active Routes:");
            println!(
                "{:>18} {:>16} {:>16} {:>16} {:>7}  {:<6} Type",
                "Network Destination", "Netmask", "Gateway", "Interface", "Metric", "Port"
            );
            for e in routes {
                let kind = match e.preference {
                    Some(p) => format!("{} (preference {p})", e.kind),
                    None => e.kind.clone(),
                };
                println!(
                    "{:>18} {:>16} {:>16} {:>16} {:>7}  {:<6} {}",
                    e.network, e.netmask, e.gateway, e.interface, e.metric, e.port, kind
                );
            }
        }
        Response::Echo { seq, outcome } => match outcome {
            EchoOutcome::Reply {
                from,
                bytes,
                ttl,
                rtt_us,
            } => println!(
                "{} bytes from {from}: icmp_seq={seq} ttl={ttl} time={} ms",
                u32::from(*bytes) + 8,
                ms(*rtt_us)
            ),
            EchoOutcome::Timeout => println!("Request timed out. icmp_seq={seq}"),
            EchoOutcome::IcmpError { from, message, mtu } => match mtu {
                Some(m) => println!("From {from} icmp_seq={seq} {message} (mtu = {m})"),
                None => println!("From {from} icmp_seq={seq} {message}"),
            },
            EchoOutcome::Failed { message } => println!("icmp_seq={seq}: {message}"),
        },
        Response::PingDone { sent, received } => {
            let loss = if *sent == 0 {
                0
            } else {
                100 * (sent - received) / sent
            };
            if let Some(d) = ping_dst {
                println!("\n--- {d} ping statistics ---");
            }
            println!("{sent} packets transmitted, {received} received, {loss}% packet loss");
            if *received == 0 && *sent > 0 {
                bail!("no reply");
            }
        }
        Response::Hop {
            ttl,
            from,
            rtt_us,
            reached: _,
        } => match (from, rtt_us) {
            (Some(f), Some(t)) => println!("{ttl:>3} {:>8} ms  {f}", ms(*t)),
            _ => println!("{ttl:>3} {:>8}     Request timed out.", "*"),
        },
        Response::TraceDone => println!("\nTrace complete."),
        Response::Igmp { ports } => {
            for p in ports {
                println!("Interface {}:", p.port);
                for g in &p.groups {
                    println!("  {g}");
                }
            }
        }
        Response::Rdisc(s) => print_rdisc(s),
        // `capture` is handled by crate::capture.
        Response::Frame(_) | Response::CaptureDone { .. } => {}
        Response::Trace { packets } => {
            for (i, p) in packets.iter().enumerate() {
                println!("packet {} (core {}):", i + 1, p.core);
                for s in &p.steps {
                    println!("  {s}");
                }
            }
            println!("{} packet(s) traced.", packets.len());
        }
        Response::Filters { rules } => print_filters(rules),
        Response::Ipsec {
            policies,
            sas,
            missing_cores,
        } => {
            println!("Policies:");
            println!(
                "  {:<3} {:>3}  {:<52} {:<16} {:>10}",
                "dir", "#", "selector", "action", "hits"
            );
            for p in policies {
                println!(
                    "  {:<3} {:>3}  {:<52} {:<16} {:>10}",
                    p.direction, p.index, p.selector, p.action, p.hits
                );
            }
            println!("SAs:");
            println!(
                "  {:<10} {:<3} {:<5} {:<24} {:<23} {:>9} {:>11} {:>7} {:>7} {:>7} {:>17}",
                "spi",
                "dir",
                "proto",
                "algorithm",
                "mode",
                "packets",
                "bytes",
                "replay",
                "icv",
                "drops",
                "lifetime"
            );
            for s in sas {
                let limit = if s.lifetime_limit == 0 {
                    "-".to_string()
                } else {
                    s.lifetime_limit.to_string()
                };
                let alg = if s.esn {
                    format!("{} esn", s.algorithm)
                } else {
                    s.algorithm.clone()
                };
                println!(
                    "  {:<10} {:<3} {:<5} {:<24} {:<23} {:>9} {:>11} {:>7} {:>7} {:>7} {:>17}",
                    format!("{:#x}", s.spi),
                    s.direction,
                    s.protocol,
                    alg,
                    s.mode,
                    s.packets,
                    s.bytes,
                    s.replay_drops,
                    s.icv_failures,
                    s.drops,
                    format!("{}/{}", s.lifetime_used, limit)
                );
            }
            if !missing_cores.is_empty() {
                println!("(cores {missing_cores:?} did not answer: their counts are missing)");
            }
        }
        Response::Conntrack { sessions, .. } => {
            for s in sessions {
                println!("{}", conntrack_line(s));
            }
        }
        Response::Nat {
            mappings,
            sessions,
            pool,
            statics,
            missing_cores,
            cut,
        } => {
            println!("Pool:");
            for p in pool {
                println!(
                    "  {:<16} {} mappings of {} ports per protocol",
                    p.address, p.mappings, p.ports
                );
            }
            if !statics.is_empty() {
                println!("Static:");
                for s in statics {
                    println!("  {s}");
                }
            }
            println!("Mappings:");
            println!(
                "  {:<5} {:<22} {:<22} {:>8} {:>4}",
                "Proto", "Inside", "Public", "Sessions", "Core"
            );
            for m in mappings {
                println!(
                    "  {:<5} {:<22} {:<22} {:>8} {:>4}",
                    m.proto, m.inside, m.public, m.sessions, m.core
                );
            }
            println!("Sessions:");
            for s in sessions {
                println!("  {}", conntrack_line(s));
            }
            if *cut {
                println!("(a core held more than it lists)");
            }
            if !missing_cores.is_empty() {
                println!("(cores {missing_cores:?} did not answer in time)");
            }
        }
        Response::Firewall {
            ports,
            block_icmp,
            exceptions,
        } => {
            println!("Firewalled ports: {}", ports.join(" "));
            println!("Blocked ICMP types: {block_icmp:?}");
            println!("Exceptions:");
            for e in exceptions {
                println!(
                    "  {} {:>3}  {:<60} hits {}",
                    e.port, e.index, e.rule, e.hits
                );
            }
        }
        Response::FilterAdded { index, rule } => println!("added at index {index}: {rule}"),
        Response::FilterDeleted { rule } => println!("deleted: {rule}"),
        Response::Netstat {
            connections,
            missing_cores,
        } => print_netstat(connections, missing_cores),
        Response::Stats { groups } => {
            for g in groups {
                println!("{}:", g.title);
                for c in &g.counters {
                    println!("  {:<32} {}", c.name, c.value);
                }
            }
        }
    }
    Ok(())
}

/// `netstat -an` with burst's extra columns (send/receive queues, cwnd, SRTT, retransmissions,
/// owning core).
fn print_netstat(rows: &[ctl::TcpConnection], missing: &[u16]) {
    println!("\nActive Connections\n");
    println!(
        "  {:<5} {:<22} {:<22} {:<13} {:>8} {:>8} {:>8} {:>9} {:>6} {:>4}",
        "Proto",
        "Local Address",
        "Foreign Address",
        "State",
        "Send-Q",
        "Recv-Q",
        "cwnd",
        "srtt(ms)",
        "retx",
        "core"
    );
    for r in rows {
        let srtt = r.srtt_us.map_or_else(|| "-".to_string(), ms);
        println!(
            "  {:<5} {:<22} {:<22} {:<13} {:>8} {:>8} {:>8} {:>9} {:>6} {:>4}",
            "TCP",
            r.local.to_string(),
            r.remote.to_string(),
            r.state,
            r.send_q,
            r.recv_q,
            r.cwnd,
            srtt,
            r.retransmits,
            r.core
        );
    }
    if !missing.is_empty() {
        println!("\n  (no answer from core(s) {missing:?} in time: their rows are missing)");
    }
}

/// `netstat -s`: the per-core protocol counters summed, one section per protocol.
fn netstat_s(socket: &std::path::Path) -> Result<()> {
    let mut groups = Vec::new();
    ctl::request(socket, &Request::Stats, |r| {
        if let Response::Stats { groups: g } = r {
            groups = g.clone();
        }
    })
    .with_context(|| format!("control socket {}", socket.display()))?;
    let mut totals: Vec<(String, u64)> = Vec::new();
    for g in groups.iter().filter(|g| g.title.starts_with("core ")) {
        for c in &g.counters {
            match totals.iter_mut().find(|(n, _)| *n == c.name) {
                Some((_, v)) => *v += c.value,
                None => totals.push((c.name.clone(), c.value)),
            }
        }
    }
    if let Some(l) = groups.iter().find(|g| g.title.starts_with("limits")) {
        println!("\nLimits per worker (from the configuration)\n");
        for c in &l.counters {
            println!("  {:<36} = {}", c.name, c.value);
        }
    }
    for (prefix, title) in [
        ("ipv4.", "IPv4 Statistics"),
        ("icmp.", "ICMPv4 Statistics"),
        ("udp.", "UDP Statistics for IPv4"),
        ("tcp.", "TCP Statistics for IPv4"),
        ("frag.", "IPv4 Reassembly"),
        ("fwd.", "IPv4 Forwarding"),
        ("l2.", "Link layer and queues"),
        ("app.", "Application"),
    ] {
        println!("\n{title}\n");
        for (n, v) in totals.iter().filter(|(n, _)| n.starts_with(prefix)) {
            println!("  {:<36} = {v}", &n[prefix.len()..]);
        }
    }
    Ok(())
}

/// `ipsec [sa add KEY=VALUE... | sa delete SPI [in|out]]`.
fn ipsec_request(args: &[String]) -> Result<Request> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["list"] => Ok(Request::Ipsec),
        ["sa", "add", kv @ ..] if !kv.is_empty() => {
            let mut lines = String::new();
            for item in kv {
                let Some((k, v)) = item.split_once('=') else {
                    bail!("{item}: expected KEY=VALUE (the keys of an [[ipsec.sa]] table)");
                };
                // Keys are hex strings even when all their digits are decimal.
                let v = if k.ends_with("key") {
                    format!("\"{v}\"")
                } else {
                    toml_value(v)
                };
                lines.push_str(&format!("{k} = {v}\n"));
            }
            Ok(Request::IpsecSaAdd { sa: lines })
        }
        ["sa", "delete", spi, rest @ ..] if rest.len() <= 1 => Ok(Request::IpsecSaDelete {
            spi: parse_spi(spi)?,
            direction: rest.first().map(|d| d.to_string()),
        }),
        _ => bail!("usage: ipsec | ipsec sa add KEY=VALUE... | ipsec sa delete SPI [in|out]"),
    }
}

/// A command-line value as TOML: numbers (decimal or 0x) and booleans as they are, the rest
/// quoted.
fn toml_value(v: &str) -> String {
    let number = v.parse::<u64>().is_ok()
        || v.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && u64::from_str_radix(h, 16).is_ok() && h.len() <= 8);
    if number || v == "true" || v == "false" {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn parse_spi(s: &str) -> Result<u32> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.with_context(|| format!("{s}: not an SPI (decimal or 0x hex)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: CtlCommand,
    }

    fn req(line: &str) -> Result<Request> {
        let cli = Cli::try_parse_from(std::iter::once("ctl").chain(line.split_whitespace()))?;
        match cli.cmd {
            CtlCommand::Filter { args } => filter_request(&args),
            CtlCommand::Route { args } => route_request(&args),
            _ => bail!("not a filter or route command"),
        }
    }

    #[test]
    fn filter_commands_parse() {
        assert_eq!(req("filter list").unwrap(), Request::FilterList);
        assert_eq!(
            req("filter add p0 in --dst 198.18.2.0/24 --proto tcp --dport 80 deny").unwrap(),
            Request::FilterAdd {
                port: "p0".into(),
                dir: "in".into(),
                rule: "--dst 198.18.2.0/24 --proto tcp --dport 80 deny".into(),
                index: None,
            }
        );
        assert_eq!(
            req("filter add p1 out --index 0 --sport 1000-2000 count").unwrap(),
            Request::FilterAdd {
                port: "p1".into(),
                dir: "out".into(),
                rule: "--sport 1000-2000 count".into(),
                index: Some(0),
            }
        );
        assert_eq!(
            req("filter add p0 in permit").unwrap(),
            Request::FilterAdd {
                port: "p0".into(),
                dir: "in".into(),
                rule: "permit".into(),
                index: None,
            }
        );
        assert_eq!(
            req("filter delete p0 out 3").unwrap(),
            Request::FilterDelete {
                port: "p0".into(),
                dir: "out".into(),
                index: 3,
            }
        );
        // Route parsing still works next to it.
        assert_eq!(req("route print").unwrap(), Request::RoutePrint);
    }

    #[test]
    fn netstat_flags_parse() {
        let parse = |l: &str| {
            Cli::try_parse_from(std::iter::once("ctl").chain(l.split_whitespace()))
                .map(|c| c.cmd)
                .unwrap()
        };
        assert!(matches!(
            parse("netstat -an"),
            CtlCommand::Netstat {
                a: true,
                n: true,
                s: false,
                r: false
            }
        ));
        assert!(matches!(
            parse("netstat -a"),
            CtlCommand::Netstat { a: true, .. }
        ));
        assert!(matches!(
            parse("netstat -s"),
            CtlCommand::Netstat { s: true, .. }
        ));
    }

    #[test]
    fn filter_usage_errors() {
        let e = |l: &str| format!("{:#}", req(l).unwrap_err());
        let m = e("filter");
        assert!(m.starts_with("usage: filter list"), "{m}");
        assert!(e("filter show").starts_with("usage: filter list"));
        assert!(e("filter add p0 in").starts_with("usage: filter list"));
        assert!(e("filter add p0 sideways deny").starts_with("sideways: expected in or out"));
        assert_eq!(
            e("filter delete p0 in x"),
            "x: not a rule index: invalid digit found in string"
        );
        assert_eq!(e("filter add p0 in --index"), "--index needs a value");
        assert!(e("filter add p0 in --index -1 deny").starts_with("--index -1: not an index"));
        assert_eq!(
            e("filter add p0 in --index 1 --index 2 deny"),
            "--index given twice"
        );
    }

    #[test]
    fn ipsec_sa_add_turns_keys_into_an_sa_table() {
        let args: Vec<String> = [
            "sa",
            "add",
            "spi=0x3001",
            "direction=in",
            "protocol=ah",
            "replay_window=128",
            "auth_key=0011",
        ]
        .map(String::from)
        .to_vec();
        let Request::IpsecSaAdd { sa } = ipsec_request(&args).unwrap() else {
            panic!("not an add");
        };
        assert_eq!(
            sa,
            "spi = 0x3001\ndirection = \"in\"\nprotocol = \"ah\"\nreplay_window = 128\nauth_key = \"0011\"\n"
        );
        let del: Vec<String> = ["sa", "delete", "0x3001", "in"].map(String::from).to_vec();
        assert_eq!(
            ipsec_request(&del).unwrap(),
            Request::IpsecSaDelete {
                spi: 0x3001,
                direction: Some("in".into())
            }
        );
        assert_eq!(ipsec_request(&[]).unwrap(), Request::Ipsec);
        assert!(ipsec_request(&["sa".into(), "add".into(), "spi".into()]).is_err());
    }
}
