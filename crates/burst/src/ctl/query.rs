//! `ctl` commands that ask every core and merge: conntrack listings and `netstat -s`.

use std::net::Ipv4Addr;

use super::*;
use anyhow::{bail, Context, Result};
use burst_runtime::ctl::{self, Request, Response};

/// `conntrack ...`: lists (filtered here), counts or flushes every core's sessions, printed
/// like conntrack-tools' `conntrack -L` so the two can be compared line by line.
pub(super) fn conntrack(socket: &std::path::Path, args: &[String]) -> Result<()> {
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
pub(super) fn conntrack_line(s: &ctl::CtSession) -> String {
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

/// `netstat -s`: the per-core protocol counters summed, one section per protocol.
pub(super) fn netstat_s(socket: &std::path::Path) -> Result<()> {
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
