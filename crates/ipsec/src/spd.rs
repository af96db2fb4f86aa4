//! The security policy database (RFC 4301 §4.4.1): an ordered list of rules per direction,
//! each a selector (source and destination prefixes, protocol, port ranges) and an action —
//! bypass (permit), discard (block) or protect with an SA. The first rule that matches
//! decides; a datagram no rule matches is discarded (RFC 4301 §4.4.1: the SPD's last entry is
//! an implicit discard).
//!
//! Ports are those of TCP, UDP and SCTP in a datagram's first (or only) fragment; other
//! protocols and later fragments carry none ("OPAQUE", RFC 4301 §4.4.1.1), and a rule with a
//! port range other than "any" does not match them.
//!
//! Lookup is linear in the number of rules; the per-core flow cache of decisions that issue
//! 18 asks for is left for the runtime (docs/ipsec.md).

use std::net::Ipv4Addr;

use burst_wire::ipv4::{self, Cidr};

/// An inclusive port range; `PortRange::ANY` matches datagrams without ports too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl PortRange {
    /// Every port, and no port.
    pub const ANY: PortRange = PortRange {
        lo: 0,
        hi: u16::MAX,
    };

    /// One port.
    pub const fn one(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }

    /// Whether this is [`PortRange::ANY`].
    pub const fn is_any(&self) -> bool {
        self.lo == 0 && self.hi == u16::MAX
    }

    fn matches(&self, port: Option<u16>) -> bool {
        match port {
            Some(p) => self.lo <= p && p <= self.hi,
            None => self.is_any(),
        }
    }
}

/// What a rule matches (RFC 4301 §4.4.1.1, without names and with IPv4 prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Source prefix.
    pub src: Cidr,
    /// Destination prefix.
    pub dst: Cidr,
    /// IP protocol, or any.
    pub protocol: Option<u8>,
    /// Source ports.
    pub src_ports: PortRange,
    /// Destination ports.
    pub dst_ports: PortRange,
}

impl Selector {
    /// Matches everything.
    pub const ANY: Selector = Selector {
        src: Cidr::DEFAULT,
        dst: Cidr::DEFAULT,
        protocol: None,
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
    };

    /// Whether `flow` matches.
    pub fn matches(&self, flow: &Flow) -> bool {
        self.src.contains_addr(flow.src)
            && self.dst.contains_addr(flow.dst)
            && self.protocol.is_none_or(|p| p == flow.protocol)
            && self.src_ports.matches(flow.src_port)
            && self.dst_ports.matches(flow.dst_port)
    }
}

/// What to do with a matching datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pass it without IPsec (RFC 4301 "BYPASS"; the seed's "permit").
    Bypass,
    /// Drop it (RFC 4301 "DISCARD"; the seed's "block").
    Discard,
    /// Protect it with the SA of this SPI (RFC 4301 "PROTECT"; the seed's "secure").
    Protect(u32),
}

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// What it matches.
    pub selector: Selector,
    /// What it does.
    pub action: Action,
}

/// The fields of a datagram that selectors look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub protocol: u8,
    /// Source port, if the datagram has one.
    pub src_port: Option<u16>,
    /// Destination port, if the datagram has one.
    pub dst_port: Option<u16>,
}

impl Flow {
    /// The flow of an IPv4 datagram (its header, and the first four payload bytes for ports),
    /// or `None` if it is not one.
    pub fn from_ipv4(ip: &[u8]) -> Option<Flow> {
        let p = ipv4::Packet::new_checked_header(ip).ok()?;
        let protocol = p.protocol().0;
        let body = p.payload();
        let ported = matches!(protocol, 6 | 17 | 132) && p.frag_offset() == 0 && body.len() >= 4;
        let (src_port, dst_port) = if ported {
            (
                Some(u16::from_be_bytes([body[0], body[1]])),
                Some(u16::from_be_bytes([body[2], body[3]])),
            )
        } else {
            (None, None)
        };
        Some(Flow {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol,
            src_port,
            dst_port,
        })
    }
}

/// Counters of an SPD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpdStats {
    /// Datagrams no rule matched (discarded).
    pub no_match: u64,
    /// Inbound plain datagrams that a protect rule covers (RFC 4301 §5.2: discarded).
    pub plain_to_protected: u64,
    /// Inbound decrypted datagrams whose rule names another SA, or no SA (RFC 4301 §5.2,
    /// step 4: the SA used must be the one the policy requires).
    pub wrong_sa: u64,
    /// Datagrams a discard rule matched.
    pub discarded: u64,
}

/// How an inbound datagram arrived, for [`Spd::check_inbound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Without IPsec.
    Plain,
    /// Decrypted with the inbound SA of this SPI.
    Protected(u32),
}

/// The verdict of [`Spd::check_inbound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundVerdict {
    /// Deliver or forward it.
    Accept,
    /// Drop it, counted under this name.
    Drop(&'static str),
}

/// One direction's ordered rules, with a hit counter per rule.
#[derive(Debug, Clone, Default)]
pub struct Spd {
    rules: Vec<Policy>,
    hits: Vec<u64>,
    /// Counters.
    pub stats: SpdStats,
}

impl Spd {
    /// An SPD of `rules`, first match wins.
    pub fn new(rules: Vec<Policy>) -> Spd {
        let hits = vec![0; rules.len()];
        Spd {
            rules,
            hits,
            stats: SpdStats::default(),
        }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Policy] {
        &self.rules
    }

    /// How often each rule decided, in rule order.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// The first rule matching `flow` (its index and action), counting a hit; `None` when no
    /// rule matches (the caller discards, counted in `no_match`).
    pub fn lookup(&mut self, flow: &Flow) -> Option<(usize, Action)> {
        let found = self.find(flow);
        self.record(found);
        found
    }

    /// The first rule matching `flow` (its index and action), counting nothing: a fast path
    /// decides with it first and counts with [`Spd::record`] (or the `*_found` calls) only
    /// once it keeps the datagram, so a datagram it leaves to the full path is not counted
    /// twice.
    pub fn find(&self, flow: &Flow) -> Option<(usize, Action)> {
        let i = self.rules.iter().position(|r| r.selector.matches(flow))?;
        Some((i, self.rules[i].action))
    }

    /// Counts what [`Spd::find`] found: a hit of the rule, or `no_match`.
    pub fn record(&mut self, found: Option<(usize, Action)>) {
        match found {
            Some((i, _)) => self.hits[i] += 1,
            None => self.stats.no_match += 1,
        }
    }

    /// The outbound decision for `flow`: the action of the first matching rule, discard when
    /// none matches. Discards are counted.
    pub fn decide_outbound(&mut self, flow: &Flow) -> Action {
        let found = self.find(flow);
        self.decide_outbound_found(found)
    }

    /// [`Spd::decide_outbound`] for what [`Spd::find`] found, counted now.
    pub fn decide_outbound_found(&mut self, found: Option<(usize, Action)>) -> Action {
        self.record(found);
        match found {
            Some((_, Action::Discard)) => {
                self.stats.discarded += 1;
                Action::Discard
            }
            Some((_, a)) => a,
            None => Action::Discard,
        }
    }

    /// The inbound check of RFC 4301 §5.2 for a datagram that arrived as `arrival` (after
    /// decryption, `flow` is the decrypted datagram's): plain traffic passes only a bypass
    /// rule, protected traffic only a protect rule naming the SA it came through.
    pub fn check_inbound(&mut self, flow: &Flow, arrival: Arrival) -> InboundVerdict {
        let found = self.find(flow);
        self.check_inbound_found(found, arrival)
    }

    /// Whether [`Spd::check_inbound`] would accept a datagram whose [`Spd::find`] found
    /// `found` (nothing counted).
    pub fn accepts(found: Option<(usize, Action)>, arrival: Arrival) -> bool {
        match (found.map(|(_, a)| a), arrival) {
            (Some(Action::Bypass), Arrival::Plain) => true,
            (Some(Action::Protect(want)), Arrival::Protected(got)) => want == got,
            _ => false,
        }
    }

    /// [`Spd::check_inbound`] for what [`Spd::find`] found, counted now.
    pub fn check_inbound_found(
        &mut self,
        found: Option<(usize, Action)>,
        arrival: Arrival,
    ) -> InboundVerdict {
        self.record(found);
        let action = match found {
            Some((_, a)) => a,
            None => return InboundVerdict::Drop("ipsec.spd_no_match"),
        };
        match (action, arrival) {
            (Action::Discard, _) => {
                self.stats.discarded += 1;
                InboundVerdict::Drop("ipsec.spd_discard")
            }
            (Action::Bypass, Arrival::Plain) => InboundVerdict::Accept,
            (Action::Protect(want), Arrival::Protected(got)) if want == got => {
                InboundVerdict::Accept
            }
            (Action::Protect(_), Arrival::Plain) => {
                self.stats.plain_to_protected += 1;
                InboundVerdict::Drop("ipsec.plain_to_protected")
            }
            (_, Arrival::Protected(_)) => {
                self.stats.wrong_sa += 1;
                InboundVerdict::Drop("ipsec.wrong_sa")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Flow {
        Flow {
            src: src.into(),
            dst: dst.into(),
            protocol: 17,
            src_port: Some(sport),
            dst_port: Some(dport),
        }
    }

    fn spd() -> Spd {
        Spd::new(vec![
            // DNS to 198.19.0.0/17 passes in the clear.
            Policy {
                selector: Selector {
                    dst: cidr("198.19.0.0/17"),
                    protocol: Some(17),
                    dst_ports: PortRange::one(53),
                    ..Selector::ANY
                },
                action: Action::Bypass,
            },
            // Everything else between the two subnets is protected.
            Policy {
                selector: Selector {
                    src: cidr("198.18.0.0/17"),
                    dst: cidr("198.19.0.0/17"),
                    ..Selector::ANY
                },
                action: Action::Protect(0x1000),
            },
            // Telnet anywhere is blocked.
            Policy {
                selector: Selector {
                    protocol: Some(6),
                    dst_ports: PortRange::one(23),
                    ..Selector::ANY
                },
                action: Action::Discard,
            },
            // High UDP ports pass.
            Policy {
                selector: Selector {
                    protocol: Some(17),
                    src_ports: PortRange {
                        lo: 1024,
                        hi: 65535,
                    },
                    ..Selector::ANY
                },
                action: Action::Bypass,
            },
        ])
    }

    #[test]
    fn first_match_wins_and_hits_are_counted() {
        let mut s = spd();
        let dns = udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 53);
        assert_eq!(s.lookup(&dns), Some((0, Action::Bypass)));
        let other = udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 54);
        assert_eq!(s.lookup(&other), Some((1, Action::Protect(0x1000))));
        let mut telnet = udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 23);
        telnet.protocol = 6;
        // The protect rule comes first for telnet between the subnets...
        assert_eq!(s.lookup(&telnet), Some((1, Action::Protect(0x1000))));
        // ...and the discard rule elsewhere.
        telnet.dst = [198, 18, 200, 1].into();
        assert_eq!(s.decide_outbound(&telnet), Action::Discard);
        let high = udp([198, 18, 200, 7], [198, 18, 200, 1], 1024, 9);
        assert_eq!(s.lookup(&high), Some((3, Action::Bypass)));
        let low = udp([198, 18, 200, 7], [198, 18, 200, 1], 1023, 9);
        assert_eq!(s.decide_outbound(&low), Action::Discard);
        assert_eq!(s.hits(), &[1, 2, 1, 1]);
        assert_eq!(s.stats.no_match, 1);
        assert_eq!(s.stats.discarded, 1);
    }

    /// The fast path decides with `find` and `accepts` and counts later: the same verdicts
    /// and counters as `check_inbound`, and nothing counted by `find` alone.
    #[test]
    fn find_counts_nothing_and_accepts_agrees_with_check_inbound() {
        let flows = [
            udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 80),
            udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 53),
            udp([198, 18, 200, 1], [198, 18, 200, 2], 1, 2),
            udp([198, 18, 200, 7], [198, 18, 200, 1], 1024, 9),
        ];
        let arrivals = [
            Arrival::Plain,
            Arrival::Protected(0x1000),
            Arrival::Protected(0x2000),
        ];
        let (mut a, mut b) = (spd(), spd());
        for f in &flows {
            for &arr in &arrivals {
                let found = a.find(f);
                assert_eq!(a.hits(), b.hits(), "find counts nothing");
                let slow = b.check_inbound(f, arr);
                assert_eq!(Spd::accepts(found, arr), slow == InboundVerdict::Accept);
                assert_eq!(a.check_inbound_found(found, arr), slow);
            }
            let found = a.find(f);
            assert_eq!(a.decide_outbound_found(found), b.decide_outbound(f));
        }
        assert_eq!(a.hits(), b.hits());
        assert_eq!(a.stats, b.stats);
    }

    #[test]
    fn datagrams_without_ports_match_only_any_ports() {
        let mut s = spd();
        let icmp = Flow {
            src: [198, 18, 0, 1].into(),
            dst: [198, 19, 2, 3].into(),
            protocol: 1,
            src_port: None,
            dst_port: None,
        };
        assert_eq!(s.lookup(&icmp), Some((1, Action::Protect(0x1000))));
        let frag = Flow {
            protocol: 17,
            dst: [198, 18, 200, 1].into(),
            ..icmp
        };
        assert_eq!(s.lookup(&frag), None);
    }

    #[test]
    fn inbound_checks_of_rfc4301_section_5_2() {
        let mut s = spd();
        let flow = udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 80);
        assert_eq!(
            s.check_inbound(&flow, Arrival::Protected(0x1000)),
            InboundVerdict::Accept
        );
        assert_eq!(
            s.check_inbound(&flow, Arrival::Plain),
            InboundVerdict::Drop("ipsec.plain_to_protected")
        );
        assert_eq!(
            s.check_inbound(&flow, Arrival::Protected(0x2000)),
            InboundVerdict::Drop("ipsec.wrong_sa")
        );
        let dns = udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 53);
        assert_eq!(
            s.check_inbound(&dns, Arrival::Plain),
            InboundVerdict::Accept
        );
        assert_eq!(
            s.check_inbound(&dns, Arrival::Protected(0x1000)),
            InboundVerdict::Drop("ipsec.wrong_sa")
        );
        let nothing = udp([198, 18, 200, 1], [198, 18, 200, 2], 1, 2);
        assert_eq!(
            s.check_inbound(&nothing, Arrival::Plain),
            InboundVerdict::Drop("ipsec.spd_no_match")
        );
        assert_eq!(s.stats.plain_to_protected, 1);
        assert_eq!(s.stats.wrong_sa, 2);
    }

    #[test]
    fn flows_from_datagrams() {
        let mut d = [0u8; 28];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&28u16.to_be_bytes());
        d[8] = 64;
        d[9] = 17;
        d[12..16].copy_from_slice(&[198, 18, 0, 1]);
        d[16..20].copy_from_slice(&[198, 19, 0, 1]);
        d[20..24].copy_from_slice(&[0x13, 0x88, 0x00, 0x35]);
        assert_eq!(
            Flow::from_ipv4(&d),
            Some(udp([198, 18, 0, 1], [198, 19, 0, 1], 5000, 53))
        );
        // A later fragment has no ports.
        d[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        let f = Flow::from_ipv4(&d).unwrap();
        assert_eq!((f.src_port, f.dst_port), (None, None));
        assert_eq!(Flow::from_ipv4(&d[..19]), None);
    }
}
