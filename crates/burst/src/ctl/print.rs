//! Printing control responses the way operators read them (tables, netstat, ping lines).

use std::net::Ipv4Addr;

use super::*;
use anyhow::{bail, Result};
use burst_runtime::ctl::{self, EchoOutcome, Response};

pub(super) fn print_rdisc(s: &burst_runtime::ctl::RdiscStatus) {
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

pub(super) fn print_filters(rules: &[ctl::FilterRule]) {
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

pub(super) fn ms(us: u64) -> String {
    if us < 1000 {
        format!("{:.3}", us as f64 / 1000.0)
    } else {
        format!("{:.1}", us as f64 / 1000.0)
    }
}

pub(super) fn print(r: &Response, ping_dst: Option<Ipv4Addr>) -> Result<()> {
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
            aes_gcm,
        } => {
            if !aes_gcm.is_empty() {
                println!("AES-GCM: {aes_gcm}");
            }
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
pub(super) fn print_netstat(rows: &[ctl::TcpConnection], missing: &[u16]) {
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
