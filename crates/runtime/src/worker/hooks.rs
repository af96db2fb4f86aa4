//! The hooks of the seed's packet paths (seed 000), each a small function returning a
//! [`HookVerdict`] (off, pass/permit, deny or drop with the named counter, consumed,
//! translated): the filter-hook (per-port inbound and outbound packet filters), the
//! firewall-hook (NAT and the stateful firewall), IPsec, and TCP/IP filtering. The paths in
//! [`paths`](super::paths) call them in the seed's order.
//!
//! A hook with nothing configured costs one predictable branch on a per-poll mask or an
//! `Option` and returns [`HookVerdict::Off`]. The firewall-hook's three forms (destination,
//! transit, source) live in `firewall.rs`, IPsec's (inbound, outbound, ESP) in `ipsec.rs`.
//! Each hook records
//! its verdict in the trace of the packet being traced (`burst ctl trace`), and every drop is
//! counted under a named counter.

use burst_port::Queue;
use burst_stack::filter::Direction;
use burst_stack::PortId;
use burst_wire::ipv4::Protocol;

use super::Worker;
use crate::trace::{Hook, HookVerdict, Step};

impl<Q: Queue> Worker<Q> {
    /// Records a hook's verdict in the trace (only while `ctl trace` runs) and tells the path
    /// whether to go on.
    #[inline]
    pub(super) fn hook(&mut self, hook: Hook, verdict: HookVerdict) -> bool {
        if verdict != HookVerdict::Off {
            self.rt.hooks[hook as usize] += 1;
        }
        self.step(Step::Hook { hook, verdict });
        if let Some(c) = verdict.counter() {
            self.step(Step::Drop(c));
        }
        verdict.passes()
    }

    /// Filter-hook: `port`'s packet filter list for `dir` against the IPv4 datagram `ip` (its
    /// L3/L4 headers suffice). Ports and directions without rules (known once per poll) cost a
    /// bit test.
    pub(super) fn filter_hook(&mut self, port: PortId, dir: Direction, ip: &[u8]) -> HookVerdict {
        let mask = match dir {
            Direction::In => self.filter_in_ports,
            Direction::Out => self.filter_out_ports,
        };
        if usize::from(port.0) < 64 && mask & (1 << port.0) == 0 {
            return HookVerdict::Off;
        }
        let guard = self.routes.domain().pin();
        let set = self.cfg.filters.set(&guard);
        if !set.is_active(port, dir) {
            return HookVerdict::Off;
        }
        let v = set.evaluate(port, dir, ip, self.id);
        drop(guard);
        let rule = v.rule.map(|r| r as u16);
        if v.permit {
            return HookVerdict::Permit { rule };
        }
        let counter = match dir {
            Direction::In => {
                self.fwd.drop_filter_in += 1;
                "drop_filter_in"
            }
            Direction::Out => {
                self.fwd.drop_filter_out += 1;
                "drop_filter_out"
            }
        };
        HookVerdict::Deny { rule, counter }
    }

    /// TCP/IP filtering (seed 000, destination traffic only): the permitted IP protocols, TCP
    /// ports and UDP ports; the rest is dropped silently and counted.
    pub(super) fn tcpip_filter_hook(&mut self, ip: &[u8]) -> HookVerdict {
        let f = &self.cfg.filtering;
        if f.protocols.is_none() && f.tcp_ports.is_none() && f.udp_ports.is_none() {
            return HookVerdict::Off;
        }
        let p = burst_wire::ipv4::Packet::new_unchecked(ip);
        let proto = p.protocol();
        if !f.protocol_ok(proto.0) {
            self.filtered += 1;
            return HookVerdict::Drop("filtered");
        }
        // Only a first fragment (or a whole datagram) carries the ports: reassembled by now.
        let body = p.payload();
        let dport = || body.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match proto {
            Protocol::TCP if dport().is_some_and(|d| !f.tcp_ok(d)) => {
                self.tcp_stats.in_filtered += 1;
                self.filtered += 1;
                HookVerdict::Drop("tcp.in_filtered")
            }
            Protocol::UDP if dport().is_some_and(|d| !f.udp_ok(d)) => {
                self.udp.stats.filtered += 1;
                self.filtered += 1;
                HookVerdict::Drop("udp.filtered")
            }
            _ => HookVerdict::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use burst_port::mem::MemQueue;
    use burst_stack::udp::Filtering;
    use burst_wire::ipv4::{self, Protocol};
    use burst_wire::{udp, ChecksumMode};

    use super::*;
    use crate::trace::TraceRecord;
    use crate::worker::testing::worker;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);

    fn udp_to(dport: u16) -> Vec<u8> {
        let u = udp::Repr {
            src_port: 1000,
            dst_port: dport,
            payload_len: 4,
        };
        let ip = ipv4::Repr::new(A, B, Protocol::UDP, u.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        u.emit(
            &mut udp::Packet::new_unchecked(&mut d[20..]),
            A,
            B,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..20]),
            ChecksumMode::Compute,
        );
        d
    }

    fn tracing(w: &mut Worker<MemQueue>) {
        w.cur_trace = Some(TraceRecord::new(0));
    }

    fn steps(w: &Worker<MemQueue>) -> Vec<Step> {
        w.cur_trace.as_ref().unwrap().steps().copied().collect()
    }

    #[test]
    fn filter_hook_is_off_without_rules_and_decides_with_them() {
        let mut n = worker(&[], Filtering::default());
        let w = &mut n.workers[0];
        for dir in [Direction::In, Direction::Out] {
            assert_eq!(w.filter_hook(PortId(0), dir, &udp_to(53)), HookVerdict::Off);
        }
        let mut n = worker(
            &[
                ("a", Direction::In, "--proto udp count"),
                ("a", Direction::In, "--proto udp --dport 53 deny"),
                ("b", Direction::Out, "--dst 198.18.2.1/32 permit"),
            ],
            Filtering::default(),
        );
        let w = &mut n.workers[0];
        assert_eq!(
            w.filter_hook(PortId(0), Direction::In, &udp_to(53)),
            HookVerdict::Deny {
                rule: Some(1),
                counter: "drop_filter_in"
            }
        );
        assert_eq!(
            w.filter_hook(PortId(0), Direction::In, &udp_to(54)),
            HookVerdict::Permit { rule: Some(0) }
        );
        assert_eq!(
            w.filter_hook(PortId(1), Direction::Out, &udp_to(54)),
            HookVerdict::Permit { rule: Some(0) }
        );
        // Port a has no outbound rules, port b no inbound ones.
        assert_eq!(
            w.filter_hook(PortId(0), Direction::Out, &udp_to(53)),
            HookVerdict::Off
        );
        assert_eq!(
            w.filter_hook(PortId(1), Direction::In, &udp_to(53)),
            HookVerdict::Off
        );
        assert_eq!((w.fwd.drop_filter_in, w.fwd.drop_filter_out), (1, 0));
    }

    #[test]
    fn tcpip_filtering_drops_what_is_not_permitted_and_counts_it() {
        let mut n = worker(&[], Filtering::default());
        assert_eq!(
            n.workers[0].tcpip_filter_hook(&udp_to(53)),
            HookVerdict::Off
        );
        let mut n = worker(
            &[],
            Filtering {
                udp_ports: Some(vec![53]),
                tcp_ports: None,
                protocols: Some(vec![1, 17]),
            },
        );
        let w = &mut n.workers[0];
        assert_eq!(w.tcpip_filter_hook(&udp_to(53)), HookVerdict::Pass);
        assert_eq!(
            w.tcpip_filter_hook(&udp_to(54)),
            HookVerdict::Drop("udp.filtered")
        );
        let mut tcp = udp_to(80);
        tcp[9] = Protocol::TCP.0;
        assert_eq!(w.tcpip_filter_hook(&tcp), HookVerdict::Drop("filtered"));
        assert_eq!((w.udp.stats.filtered, w.filtered), (1, 2));
    }

    #[test]
    fn unconfigured_hooks_pass_and_every_verdict_is_traced_in_order() {
        let mut n = worker(
            &[("a", Direction::In, "--proto udp deny")],
            Filtering::default(),
        );
        let w = &mut n.workers[0];
        tracing(w);
        let d = udp_to(9);
        let v = w.firewall_local_in(PortId(0), &d, burst_port::Nanos::ZERO);
        assert!(w.hook(Hook::Firewall, v));
        let v = w.ipsec_in_hook(&d);
        assert!(w.hook(Hook::Ipsec, v));
        let v = w.filter_hook(PortId(0), Direction::In, &d);
        assert!(!w.hook(Hook::FilterIn, v));
        assert_eq!(
            steps(w),
            [
                Step::Hook {
                    hook: Hook::Firewall,
                    verdict: HookVerdict::Off
                },
                Step::Hook {
                    hook: Hook::Ipsec,
                    verdict: HookVerdict::Off
                },
                Step::Hook {
                    hook: Hook::FilterIn,
                    verdict: HookVerdict::Deny {
                        rule: Some(0),
                        counter: "drop_filter_in"
                    }
                },
                Step::Drop("drop_filter_in"),
            ]
        );
        // Consumed and translated packets do not go on; the rest does.
        assert!(!HookVerdict::Consumed.passes());
        assert!(HookVerdict::Translated.passes() && HookVerdict::Pass.passes());
    }
}
