//! `burst ctl trace N`: the path the next N received packets took through a worker — which
//! stage passed them and which dropped them, and why.
//!
//! The control thread arms a shared budget; each worker reads it once per burst. While it is
//! zero (always, unless someone asked) workers run their normal fast path and never look at a
//! trace; while it is positive they send every packet through the full (slow) path, which
//! records its [`Step`]s into a fixed-size [`TraceRecord`] (no allocation) that goes to the
//! control thread over the usual ring.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;

/// One stage a traced packet went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Received on a port (frame length).
    Rx {
        /// Port.
        port: PortId,
        /// Frame length.
        len: u16,
    },
    /// An ARP packet (handed to the control thread, answered if for us).
    Arp,
    /// Passed the IPv4 input checks.
    Ipv4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
        /// Protocol number.
        proto: u8,
        /// TTL as received.
        ttl: u8,
    },
    /// Delivered to a local protocol.
    Local(&'static str),
    /// A hook of the seed's packet paths and its verdict.
    Hook {
        /// Which hook.
        hook: Hook,
        /// What it decided.
        verdict: HookVerdict,
    },
    /// The IP forwarding component's route (transit and source traffic).
    Route {
        /// Egress port.
        port: PortId,
        /// Gateway, `None` when the destination is on the link.
        gateway: Option<Ipv4Addr>,
    },
    /// TTL decremented to this value.
    Ttl(u8),
    /// Split into this many fragments for the egress MTU.
    Fragmented(u16),
    /// An ICMP message was sent about or in answer to the packet.
    Icmp(&'static str),
    /// The next hop's MAC was known.
    Neighbour(MacAddr),
    /// Parked until ARP resolves this neighbour.
    ArpPending(Ipv4Addr),
    /// Queued for transmit on a port.
    Tx(PortId),
    /// Dropped, with the reason (a counter name).
    Drop(&'static str),
    /// Handed to the worker that owns it (the trace goes on there).
    HandedOff {
        /// The owning worker.
        core: u16,
        /// Steered by the firewall-hook (its flow's owner) or IPsec (its SA's owner), else a
        /// local port's owner.
        steered: bool,
    },
    /// Taken from another worker's hand-off, as received on a port (the trace's continuation).
    HandedIn {
        /// The arrival port.
        port: PortId,
    },
}

/// The hooks of the seed's packet paths (seed 000), in the order a path may meet them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// IPsec: permit, block or secure (receive: remove protection first).
    Ipsec,
    /// The filter-hook's inbound packet filters of the arrival port.
    FilterIn,
    /// The firewall-hook: NAT and the stateful firewall.
    Firewall,
    /// TCP/IP filtering: permitted protocols and ports (destination traffic).
    TcpIpFiltering,
    /// The filter-hook's outbound packet filters of the next-hop port.
    FilterOut,
}

impl Hook {
    /// The name `ctl trace` prints.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Ipsec => "ipsec",
            Hook::FilterIn => "filter-hook in",
            Hook::Firewall => "firewall-hook",
            Hook::TcpIpFiltering => "tcp/ip filtering",
            Hook::FilterOut => "filter-hook out",
        }
    }
}

/// What a hook decided about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookVerdict {
    /// Nothing configured: passed untouched, at no cost.
    Off,
    /// Looked at it and let it through.
    Pass,
    /// A packet filter permitted it (the rule that decided, or the last that counted it).
    Permit {
        /// Rule index.
        rule: Option<u16>,
    },
    /// A packet filter denied it.
    Deny {
        /// Rule index.
        rule: Option<u16>,
        /// The drop counter.
        counter: &'static str,
    },
    /// Dropped; the drop counter.
    Drop(&'static str),
    /// Taken by the hook (answered or queued by it).
    Consumed,
    /// Rewritten by the hook (NAT); it goes on as source traffic.
    Translated,
    /// IPsec: protected with the outbound SA of this SPI (ESP or AH, the second field, added).
    Secured(u32, &'static str),
    /// IPsec: ESP (or AH, the second field) removed with the inbound SA of this SPI, and the
    /// result admitted by the inbound policies.
    Decrypted(u32, &'static str),
}

impl HookVerdict {
    /// Whether the packet goes on.
    pub fn passes(self) -> bool {
        !matches!(
            self,
            HookVerdict::Deny { .. } | HookVerdict::Drop(_) | HookVerdict::Consumed
        )
    }

    /// The drop counter, when the packet was dropped.
    pub fn counter(self) -> Option<&'static str> {
        match self {
            HookVerdict::Deny { counter, .. } | HookVerdict::Drop(counter) => Some(counter),
            _ => None,
        }
    }
}

impl fmt::Display for HookVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = |r: &Option<u16>| r.map_or(String::new(), |r| format!(" (rule {r})"));
        match self {
            HookVerdict::Off => f.write_str("off"),
            HookVerdict::Pass => f.write_str("pass"),
            HookVerdict::Permit { rule: r } => write!(f, "permit{}", rule(r)),
            HookVerdict::Deny { rule: r, .. } => write!(f, "deny{}", rule(r)),
            HookVerdict::Drop(c) => write!(f, "drop ({c})"),
            HookVerdict::Consumed => f.write_str("consumed"),
            HookVerdict::Translated => f.write_str("translated"),
            HookVerdict::Secured(spi, p) => write!(f, "secure ({p}, SA {spi:#x})"),
            HookVerdict::Decrypted(spi, p) => write!(f, "decrypted ({p}, SA {spi:#x})"),
        }
    }
}

/// Most steps a record keeps (later ones are counted, not kept): a transit packet meets about
/// ten, a request and the source path of its answer about eighteen.
pub const MAX_STEPS: usize = 20;

/// The steps of one traced packet.
#[derive(Debug, Clone, Copy)]
pub struct TraceRecord {
    /// The worker (core) that handled it.
    pub core: u16,
    steps: [Option<Step>; MAX_STEPS],
    len: u8,
    /// Steps that did not fit.
    pub lost: u8,
}

impl TraceRecord {
    /// An empty record for worker `core`.
    pub fn new(core: u16) -> TraceRecord {
        TraceRecord {
            core,
            steps: [None; MAX_STEPS],
            len: 0,
            lost: 0,
        }
    }

    /// Appends a step.
    pub fn push(&mut self, s: Step) {
        if usize::from(self.len) < MAX_STEPS {
            self.steps[usize::from(self.len)] = Some(s);
            self.len += 1;
        } else {
            self.lost = self.lost.saturating_add(1);
        }
    }

    /// The recorded steps, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.steps[..usize::from(self.len)].iter().flatten()
    }
}

/// The shared "trace the next N packets" budget.
#[derive(Debug, Clone, Default)]
pub struct TraceGate(Arc<AtomicU32>);

impl TraceGate {
    /// A closed gate.
    pub fn new() -> TraceGate {
        TraceGate::default()
    }

    /// Whether any packet is still to be traced (one relaxed load: read once per burst).
    #[inline]
    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Takes one packet from the budget; false once it is spent.
    pub fn claim(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Sets the budget to `n` packets (0 closes the gate).
    pub fn arm(&self, n: u32) {
        self.0.store(n, Ordering::Relaxed);
    }
}

/// Formats a step with port names.
pub struct StepDisplay<'a> {
    /// The step.
    pub step: &'a Step,
    /// Port names by id.
    pub ports: &'a [String],
    /// The core whose record holds the step.
    pub core: u16,
}

impl fmt::Display for StepDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |p: &PortId| {
            self.ports
                .get(usize::from(p.0))
                .cloned()
                .unwrap_or_else(|| format!("port{}", p.0))
        };
        match self.step {
            Step::Rx { port, len } => write!(f, "rx {} {len} B", name(port)),
            Step::Arp => f.write_str("arp"),
            Step::Ipv4 {
                src,
                dst,
                proto,
                ttl,
            } => {
                let p = match proto {
                    1 => "icmp".to_string(),
                    2 => "igmp".to_string(),
                    6 => "tcp".to_string(),
                    17 => "udp".to_string(),
                    n => format!("proto {n}"),
                };
                write!(f, "ipv4 {src} > {dst} {p} ttl {ttl}")
            }
            Step::Local(p) => write!(f, "local {p}"),
            Step::Hook { hook, verdict } => write!(f, "{}: {verdict}", hook.name()),
            Step::Route { port, gateway } => match gateway {
                Some(g) => write!(f, "route via {g} on {}", name(port)),
                None => write!(f, "route direct on {}", name(port)),
            },
            Step::Ttl(t) => write!(f, "ttl -> {t}"),
            Step::Fragmented(n) => write!(f, "fragmented into {n}"),
            Step::Icmp(what) => write!(f, "icmp {what} sent"),
            Step::Neighbour(m) => write!(f, "neighbour {m}"),
            Step::ArpPending(ip) => write!(f, "waiting for arp {ip}"),
            Step::Tx(p) => write!(f, "tx {}", name(p)),
            Step::Drop(why) => write!(f, "DROP {why}"),
            Step::HandedOff {
                core,
                steered: true,
            } => write!(
                f,
                "steered to core {core} (the owner of its flow or IPsec SA)"
            ),
            Step::HandedOff {
                core,
                steered: false,
            } => write!(f, "local handed to core {core} (its port's owner)"),
            Step::HandedIn { port } => write!(
                f,
                "core {core}: taken from the hand-off (rx {})",
                name(port),
                core = self.core
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_counts_down_and_closes() {
        let g = TraceGate::new();
        assert!(!g.is_open() && !g.claim());
        g.arm(2);
        assert!(g.is_open());
        assert!(g.claim() && g.claim());
        assert!(!g.claim() && !g.is_open());
    }

    #[test]
    fn record_keeps_order_and_counts_overflow() {
        let mut r = TraceRecord::new(1);
        for i in 0..(MAX_STEPS as u8 + 3) {
            r.push(Step::Ttl(i));
        }
        assert_eq!(r.steps().count(), MAX_STEPS);
        assert_eq!(r.lost, 3);
        assert_eq!(r.steps().next(), Some(&Step::Ttl(0)));
        let ports = vec!["a".to_string()];
        let s = StepDisplay {
            step: &Step::Route {
                port: PortId(0),
                gateway: None,
            },
            ports: &ports,
            core: 1,
        };
        assert_eq!(s.to_string(), "route direct on a");
        let s = StepDisplay {
            step: &Step::HandedIn { port: PortId(0) },
            ports: &ports,
            core: 1,
        };
        assert_eq!(s.to_string(), "core 1: taken from the hand-off (rx a)");
    }
}
